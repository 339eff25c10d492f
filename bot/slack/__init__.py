"""The Slack side of storeops: store staff answer questions about items in their channel."""
