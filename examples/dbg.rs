fn main() {
    let raw = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let p = helpdesk::mail::parse::parse(&raw);
    println!("{:#?}", p.as_ref().map(|p| (&p.report, &p.auto, &p.body, &p.subject, &p.from, p.body_source, p.attachments.iter().map(|a| (&a.filename, &a.content_type, a.content.len(), a.inline)).collect::<Vec<_>>())));
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    for (i, part) in m.parts.iter().enumerate() {
        use mail_parser::MimeHeaders;
        println!("part {i}: {:?} {:?}", part.content_type().map(|c| (&c.c_type, &c.c_subtype)), std::mem::discriminant(&part.body));
        if let mail_parser::PartType::Message(mm) = &part.body { println!("   nested id {:?}", mm.message_id()); }
        if let mail_parser::PartType::Text(t) = &part.body { println!("   text {:?}", &t[..t.len().min(80)]); }
    }
}
