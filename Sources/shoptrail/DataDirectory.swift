import Logging
import ShopTrail

/// Creates the data directory with mode 0700 (the database, the admin token and the exports live
/// there); one that group or others could enter is tightened to 0700, with a warning.
func prepareDataDirectory(_ path: String, logger: Logger) throws {
    if let previous = try PrivateFiles.directory(path) {
        logger.warning("data directory was readable by other users: permissions tightened to 0700",
                       metadata: ["path": .string(path), "previous_mode": .string(String(previous, radix: 8))])
    }
}
