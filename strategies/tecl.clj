;; TECL: technology momentum with volatility-based sizing.
;; Overbought tech -> hedge. In an uptrend, the strongest leveraged tech sleeve and a bond sleeve are
;; sized by inverse volatility (the sleeve's own synthetic returns); in a downtrend, buy deep dips or
;; hold a volatility-sized defensive mix.
(defsymphony
 "TECL | technology momentum, volatility-sized"
 {:asset-class "EQUITIES", :rebalance-threshold 0.05}
 (if
  (> (rsi "XLK" {:window 10}) 80)
  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
  [(if
    (> (current-price "XLK") (moving-average-price "XLK" {:window 200}))
    [(weight-inverse-volatility
      20
      [(group
        "Tech momentum"
        [(filter
          (cumulative-return {:window 60})
          (select-top 2)
          [(asset "TECL" "Direxion Daily Technology Bull 3X")
           (asset "SOXL" "Direxion Daily Semiconductor Bull 3X")
           (asset "TQQQ" "ProShares UltraPro QQQ")
           (asset "XLK" "Technology Select Sector SPDR")])])
       (group
        "Bond sleeve"
        [(weight-equal
          [(asset "IEF" "iShares 7-10 Year Treasury Bond ETF")
           (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")])])])]
    [(if
      (< (rsi "TECL" {:window 10}) 30)
      [(asset "TECL" "Direxion Daily Technology Bull 3X")]
      [(if
        (< (exponential-moving-average-price "SMH" {:window 20}) (moving-average-price "SMH" {:window 50}))
        [(weight-inverse-volatility
          10
          [(asset "TECS" "Direxion Daily Technology Bear 3X")
           (asset "SHY" "iShares 1-3 Year Treasury Bond ETF")
           (asset "TLT" "iShares 20+ Year Treasury Bond ETF")])]
        [(weight-equal
          [(asset "QQQ" "Invesco QQQ Trust")
           (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")])])])])]))
