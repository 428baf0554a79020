/// What a sweep of a developer's machine leaves out: caches and bulky trees that hold downloaded or
/// generated files, never a key someone put there. Everything else is read, dotfiles included.
public enum SweepRules {
    /// Directories skipped wherever they are, by name.
    public static let skippedNames: Set<String> = [
        // dependencies and virtual environments (any directory with a pyvenv.cfg is one too)
        "node_modules", "bower_components", ".venv", "venv", "site-packages", "__pycache__", ".tox", ".pnpm-store",
        // build outputs
        ".build", "build", "dist", "target", "DerivedData", ".gradle", ".next", ".nuxt", ".terraform",
        // caches
        ".cache", ".npm", ".rustup", ".mypy_cache", ".pytest_cache", ".ruff_cache",
        // Electron and Chromium caches (VS Code, Cursor and browsers keep them under ~/.config)
        "Cache", "Code Cache", "GPUCache", "CachedData", "CacheStorage", "CachedExtensionVSIXs",
        // git's own store: the sweep reads working files; history is `perimeter scan`'s job
        ".git",
    ]

    /// Directories skipped by their parent's name and their own.
    public static let skippedPairs: Set<String> = [
        "Library/Caches", ".cargo/registry", ".cargo/git", ".m2/repository", "go/pkg", "share/Trash", ".vscode/extensions",
        ".cursor/extensions", ".vscode-server/bin", ".vscode-server/extensions", ".yarn/cache", ".nvm/versions",
    ]

    /// A file whose presence makes its directory a Python virtual environment.
    public static let virtualEnvironmentMarker = "pyvenv.cfg"

    /// Whether the sweep leaves out the directory `name` inside `parent` (its parent's name).
    public static func skipsDirectory(named name: String, parent: String) -> Bool {
        skippedNames.contains(name) || skippedPairs.contains(parent + "/" + name)
    }
}
