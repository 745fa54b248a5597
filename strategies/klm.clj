;; KLM: a multi-timeframe ensemble of trend following and mean reversion.
;; Long-horizon trend (50/200 SMA), medium-horizon trend (PPO vs its signal) and a short-horizon
;; mean-reversion sleeve (2-day RSI extremes, else the least overbought of a defensive basket).
(defsymphony
 "KLM | multi-timeframe trend and mean-reversion ensemble"
 {:asset-class "EQUITIES", :rebalance-frequency :daily}
 (weight-specified
  0.4
  (group
   "Long-horizon trend"
   [(if
     (> (moving-average-price "SPY" {:window 50}) (moving-average-price "SPY" {:window 200}))
     [(weight-equal
       [(asset "UPRO" "ProShares UltraPro S&P500")
        (asset "SPY" "SPDR S&P 500 ETF Trust")])]
     [(weight-equal
       [(asset "IEF" "iShares 7-10 Year Treasury Bond ETF")
        (asset "GLD" "SPDR Gold Shares")])])])
  0.3
  (group
   "Medium-horizon trend"
   [(if
     (and
      (>
       (percentage-price-oscillator "QQQ" {:short-window 12, :long-window 26})
       (percentage-price-oscillator-signal "QQQ" {:short-window 12, :long-window 26, :smooth-window 9}))
      (< (stdev-return "QQQ" {:window 20}) 2.5))
     [(asset "TQQQ" "ProShares UltraPro QQQ")]
     [(filter
       (stdev-return {:window 20})
       (select-bottom 1)
       [(asset "QQQ" "Invesco QQQ Trust")
        (asset "TLT" "iShares 20+ Year Treasury Bond ETF")
        (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")])])])
  0.3
  (group
   "Short-horizon mean reversion"
   [(if
     (< (rsi "SPY" {:window 2}) 10)
     [(asset "SPXL" "Direxion Daily S&P 500 Bull 3X")]
     [(if
       (> (rsi "SPY" {:window 2}) 90)
       [(asset "SH" "ProShares Short S&P500")]
       [(filter
         (rsi {:window 10})
         (select-bottom 2)
         [(asset "XLP" "Consumer Staples Select Sector SPDR")
          (asset "XLU" "Utilities Select Sector SPDR")
          (asset "XLV" "Health Care Select Sector SPDR")
          (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")])])])])))
