enum PlaceholderIdentityMapTests {}
