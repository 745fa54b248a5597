;; Nuclear: leveraged-ETF momentum with risk controls.
;; Overbought markets -> volatility hedge; oversold -> bounce; above the 200-day trend -> the two
;; strongest leveraged ETFs unless a fresh drawdown says stand aside; below it -> bonds, gold or cash.
(defsymphony
 "Nuclear | leveraged momentum with risk controls"
 {:asset-class "EQUITIES", :rebalance-frequency :daily}
 (weight-equal
  [(group
    "Risk controls"
    [(if
      (> (rsi "SPY" {:window 10}) 79)
      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
      [(if
        (> (rsi "QQQ" {:window 10}) 81)
        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
        [(if
          (< (rsi "QQQ" {:window 10}) 30)
          [(asset "TQQQ" "ProShares UltraPro QQQ")]
          [(if
            (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
            [(group
              "Bull regime: leveraged momentum"
              [(if
                (> (max-drawdown "QQQ" {:window 10}) 8)
                [(asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")]
                [(filter
                  (moving-average-return {:window 20})
                  (select-top 2)
                  [(asset "TQQQ" "ProShares UltraPro QQQ")
                   (asset "UPRO" "ProShares UltraPro S&P500")
                   (asset "SOXL" "Direxion Daily Semiconductor Bull 3X")
                   (asset "TECL" "Direxion Daily Technology Bull 3X")])])])]
            [(group
              "Bear regime: defend"
              [(if
                (< (rsi "SQQQ" {:window 10}) 31)
                [(asset "SQQQ" "ProShares UltraPro Short QQQ")]
                [(if
                  (> (cumulative-return "TLT" {:window 20}) 0)
                  [(weight-equal
                    [(asset "TMF" "Direxion Daily 20+ Year Treasury Bull 3X")
                     (asset "GLD" "SPDR Gold Shares")])]
                  [(filter
                    (rsi {:window 20})
                    (select-bottom 1)
                    [(asset "IEF" "iShares 7-10 Year Treasury Bond ETF")
                     (asset "GLD" "SPDR Gold Shares")
                     (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")])])])])])])])])])]))
