enum PlaceholderPostgresTests {}
