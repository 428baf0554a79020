/// PerimeterScanner finds LLM provider keys, cloud keys and Perimeter's own keys in files, in a
/// repository's whole git history and in its index.
///
/// The parts, each usable alone: ``Rule`` (data: what a key looks like), ``Detector`` (pure: bytes
/// in, ``Match``es out), ``ScanSource`` (working tree, git history, staged index, and ``SweepSource``:
/// a developer's machine, git-ignored files included), ``Scanner``
/// (runs a detector over a source on every core), ``Finding`` and its reports (text, JSON, SARIF),
/// and ``Baseline`` (findings accepted once, keyed by rule, path and the secret's SHA-256).
enum PerimeterScanner {}
