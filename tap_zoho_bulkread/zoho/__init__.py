"""HTTP to Zoho, no singer-sdk: tokens, requests, retries, what answers must look like."""
