use ipos_core::*;
#[test]
fn stack() {
    let kb: usize = std::env::var("KB").unwrap().parse().unwrap();
    let what = std::env::var("WHAT").unwrap();
    std::thread::Builder::new().stack_size(kb << 10).spawn(move || {
        let mut t = "1".to_string();
        for _ in 0..999 { t = if what == "map" { format!(r#"{{"~":"M","v":[[1,{t}]]}}"#) } else { format!("[{t}]") }; }
        let frame = format!(r#"{{"t":"s","q":1,"f":[["a",{t}]]}}"#);
        let mut e = Engine::new(Limits::default());
        e.receive(&frame, true).unwrap();
        let d = e.dump();
        let mut e2 = Engine::new(Limits::default());
        e2.set_origin("aa".into());
        e2.local(&format!(r#"[["c","a",{}]]"#, &d[5..d.len()-1])).unwrap();
        let _ = e2.snapshot();
        let _ = e2.local(r#"[["r","a",[],1]]"#).unwrap();
    }).unwrap().join().unwrap();
    println!("ok");
}
