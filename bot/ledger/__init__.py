"""The ledger (台账): every case and every daily report of a period, as XLSX or CSV."""
