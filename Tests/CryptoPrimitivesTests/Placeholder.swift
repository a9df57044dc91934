enum PlaceholderCryptoPrimitivesTests {}
