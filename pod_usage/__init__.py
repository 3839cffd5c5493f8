"""Pod usage: streaming daily cost-management summary of Kubernetes pod usage line items."""
