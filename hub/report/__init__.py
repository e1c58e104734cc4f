"""The joint-meeting report (联席会议对账报告): facts kept by the case ledger, figures computed from them by pure
functions, and the report rendered as HTML, PDF, XLSX or JSON."""
