enum PlaceholderStableIDAPITests {}
