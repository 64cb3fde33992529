public enum BrazeSandboxInfo { public static let name = "BrazeSandbox" }
