"""tap-zoho-bulkread: a Singer tap exporting Zoho CRM and Bigin through the Bulk Read API."""
