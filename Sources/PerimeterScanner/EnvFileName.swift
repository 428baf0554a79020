/// What a path's file name says about dotenv files.
enum EnvFileName {
    /// `.env`, `.env.local`, `.env.production`, `prod.env`, and also the templates below.
    static func isEnvFile(_ path: String) -> Bool {
        let name = baseName(path)
        return name == ".env" || name.hasPrefix(".env.") || (name.hasSuffix(".env") && name.count > 4)
    }

    /// `.env.example`, `.env.sample`, `.env.template`, `.env.dist`, `example.env` and the like:
    /// meant to be committed, with placeholder values.
    static func isTemplate(_ path: String) -> Bool {
        let name = baseName(path).lowercased()
        return ["example", "sample", "template", "dist", "defaults", "schema", "tmpl", "tpl"].contains { name.contains($0) }
    }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
