/// A list bound as one statement argument: JSON array text, read in SQL with `json_each(?)`, so a
/// statement's text (and its cached plan) does not depend on how many values it carries.
enum SQLiteList {
    static func of(_ values: some Sequence<String>) -> String { JSONValue.array(values.map(JSONValue.string)).serialized }
    static func of(_ values: some Sequence<Int64>) -> String { JSONValue.array(values.map { .number(String($0)) }).serialized }
}
