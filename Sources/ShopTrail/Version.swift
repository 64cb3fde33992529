public enum ShopTrailVersion { public static let string = "0.1.0" }
