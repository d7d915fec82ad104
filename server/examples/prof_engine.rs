#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use serde_json::json;
use std::time::Instant;
fn main() {
    let src = std::fs::read_to_string("server/benches/data/render.prompt").unwrap();
    let doc = promptls::render::parse_document(&src);
    let (t, _) = promptls::syntax::handlebars::parse_template(&doc.template, 0);
    let input = json!({"customer": "ACME", "text": "Ticket 1: late refund broken login invoice upgrade cancel thanks late refund", "tags": ["late", "refund"], "priority": 3, "order": {"id": "A-1", "total": 12.5}});
    let vars = serde_json::Map::new();
    let p: std::collections::HashMap<String, promptls::syntax::handlebars::Template> = Default::default();
    let n = 200000;
    let s = Instant::now();
    for _ in 0..n { std::hint::black_box(promptls::render::engine::render(&t, &input, &vars, &p).unwrap()); }
    println!("engine: {:.2} µs", s.elapsed().as_secs_f64() * 1e6 / n as f64);
    if std::env::var_os("ENGINE_ONLY").is_some() { return; }
    let text = promptls::render::engine::render(&t, &input, &vars, &p).unwrap();
    let s = Instant::now();
    for _ in 0..n { std::hint::black_box(promptls::render::messages::to_message_list(&text, Some(&[]))); }
    println!("messages: {:.2} µs", s.elapsed().as_secs_f64() * 1e6 / n as f64);
    let c = promptls::render::Renderer::new().compile(&src).unwrap();
    let d = promptls::render::DataArgument { input: input.as_object().unwrap().clone(), ..Default::default() };
    let s = Instant::now();
    for _ in 0..n { std::hint::black_box(c.render(&d, None).unwrap()); }
    println!("full: {:.2} µs", s.elapsed().as_secs_f64() * 1e6 / n as f64);
}
