//! Generates a deterministic tree of mixed source files (Rust, Python,
//! TypeScript, Go, Markdown, TOML, JSON, tests) for tests, demos and benches.

use std::path::Path;

use anyhow::Result;

fn rust(i: usize) -> String {
    format!(
        "//! Module {i}.\nuse std::collections::HashMap;\n\n/// Holds item {i}.\npub struct Item{i} {{\n    id: u64,\n    tags: HashMap<String, u32>,\n}}\n\nimpl Item{i} {{\n    pub fn new(id: u64) -> Self {{\n        Self {{ id, tags: HashMap::new() }}\n    }}\n\n    pub fn score(&self, x: u64) -> u64 {{\n        if x > {i} && self.id % 2 == 0 {{\n            x * 2\n        }} else if x == 0 {{\n            1\n        }} else {{\n            self.tags.len() as u64 + x\n        }}\n    }}\n}}\n\npub enum Mode{i} {{ Fast, Slow }}\n"
    )
}

fn python(i: usize) -> String {
    format!(
        "\"\"\"Service {i}.\"\"\"\nimport json\n\n\nclass Service{i}:\n    def __init__(self, name):\n        self.name = name\n\n    def handle(self, payload):\n        # Parse and route.\n        data = json.loads(payload)\n        if data.get(\"kind\") == \"a\" and {i} % 2:\n            return self.route_a(data)\n        for key in data:\n            if key.startswith(\"x\"):\n                return key\n        return None\n\n    async def route_a(self, data):\n        return data\n\n\ndef create_service_{i}(name):\n    return Service{i}(name)\n"
    )
}

fn typescript(i: usize) -> String {
    format!(
        "// Component {i}.\nexport interface Props{i} {{\n  id: string;\n  count: number;\n}}\n\nexport type Id{i} = string;\n\nexport class Store{i} {{\n  private items: Map<string, number> = new Map();\n\n  async load(id: string): Promise<number> {{\n    const v = this.items.get(id);\n    return v ?? {i};\n  }}\n}}\n\nexport const render{i} = (p: Props{i}) => {{\n  if (p.count > {i} || p.id === \"\") {{\n    return null;\n  }}\n  return p.id;\n}};\n\nfunction helper{i}(x: number): number {{\n  return x + 1;\n}}\n"
    )
}

fn go(i: usize) -> String {
    format!(
        "package pkg{m}\n\n// Server{i} serves requests.\ntype Server{i} struct {{\n\taddr string\n}}\n\ntype Handler{i} interface {{\n\tServe() error\n}}\n\nfunc NewServer{i}(addr string) *Server{i} {{\n\treturn &Server{i}{{addr: addr}}\n}}\n\nfunc (s *Server{i}) Run() error {{\n\tif s.addr == \"\" {{\n\t\treturn nil\n\t}}\n\tfor i := 0; i < {i}; i++ {{\n\t\t_ = i\n\t}}\n\treturn nil\n}}\n",
        m = i % 7
    )
}

fn markdown(i: usize) -> String {
    format!("# Guide {i}\n\nThis page explains feature {i}.\n\n- step one\n- step two\n\n```sh\nrun --flag {i}\n```\n")
}

fn toml_file(i: usize) -> String {
    format!(
        "[service]\nname = \"svc-{i}\"\nport = {}\n\n[limits]\nmax = {i}\n",
        8000 + i % 1000
    )
}

fn json_file(i: usize) -> String {
    format!("{{\"id\": {i}, \"name\": \"fixture-{i}\", \"values\": [1, 2, {i}]}}\n")
}

fn rust_test(i: usize) -> String {
    format!("#[test]\nfn case_{i}() {{\n    assert_eq!(1 + {i}, {i} + 1);\n}}\n")
}

/// Write `n` files under `dir`, spread over nested directories.
pub fn generate(dir: &Path, n: usize) -> Result<()> {
    for i in 0..n {
        let sub = dir.join(format!("pkg{:02}/mod{:02}", i % 23, (i / 23) % 11));
        std::fs::create_dir_all(&sub)?;
        let (name, body) = match i % 8 {
            0 => (format!("item_{i}.rs"), rust(i)),
            1 => (format!("service_{i}.py"), python(i)),
            2 => (format!("store_{i}.ts"), typescript(i)),
            3 => (format!("server_{i}.go"), go(i)),
            4 => (format!("guide_{i}.md"), markdown(i)),
            5 => (format!("config_{i}.toml"), toml_file(i)),
            6 => (format!("fixture_{i}.json"), json_file(i)),
            _ => (format!("case_{i}_test.rs"), rust_test(i)),
        };
        std::fs::write(sub.join(name), body)?;
    }
    Ok(())
}
