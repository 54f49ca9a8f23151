//! `index.html`: the crawler page. One self-contained file (inline CSS, no scripts, no
//! external assets) that links its IP ranges with `rel="client-ranges"` and its feed with
//! `rel="alternate"`. Every value is escaped (`crate::escape::html`).

use super::{CrawlerInfo, Publication, files};
use crate::escape::html as text;

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
h1{font-size:1.8rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f2f2f2}pre,code{font-family:ui-monospace,monospace;background:#f6f6f6}pre{padding:.6rem;overflow-x:auto;white-space:pre-wrap}\
.no{color:#8a1c1c}@media print{body{margin:0;max-width:none}a{color:inherit}pre{border:1px solid #ccc}}";

/// The page's text.
pub fn page(publication: &Publication) -> String {
    let info = &publication.info;
    let token = info.product_tokens.first().map_or("", String::as_str);
    let title = format!("The {token} crawler, operated by {}", info.operator);
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", text(&title)));
    out.push_str(&format!(
        "<link rel=\"client-ranges\" type=\"application/json\" href=\"{}\">\n",
        files::RANGES
    ));
    out.push_str(&format!(
        "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{}\" href=\"{}\">\n",
        text(&format!("{token} crawler changes")),
        files::FEED
    ));
    out.push_str(&format!(
        "<link rel=\"alternate\" type=\"application/json\" href=\"{}\">\n",
        files::JSON
    ));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    out.push_str(&format!("<h1>{}</h1>\n", text(&title)));
    if !info.description.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", text(&info.description)));
    }
    out.push_str(&format!(
        "<p>Last changed {}. This page is also published as <a href=\"{}\">JSON</a>; subscribe to <a href=\"{}\">its Atom feed</a> to be told of every change.</p>\n",
        text(&publication.journal.changed_at),
        files::JSON,
        files::FEED
    ));
    identification(info, &mut out);
    opt_out(info, &mut out);
    protocols(info, &mut out);
    behaviour(info, &mut out);
    ranges(info, &mut out);
    contact(info, &mut out);
    updates(publication, &mut out);
    out.push_str("</body>\n</html>\n");
    out
}

fn section(out: &mut String, id: &str, heading: &str) {
    out.push_str(&format!(
        "<section id=\"{id}\">\n<h2>{}</h2>\n",
        text(heading)
    ));
}

fn row(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!(
        "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>\n",
        text(key)
    ));
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", text(s))
}

fn link(href: &str) -> String {
    format!("<a href=\"{0}\">{0}</a>", text(href))
}

fn identification(info: &CrawlerInfo, out: &mut String) {
    section(out, "identification", "Identification");
    out.push_str("<table>\n");
    let tokens: Vec<String> = info.product_tokens.iter().map(|t| code(t)).collect();
    row(
        out,
        "Product token (robots.txt User-agent)",
        &tokens.join(", "),
    );
    row(out, "User-Agent header", &code(&info.user_agent));
    let purposes: Vec<String> = info.purposes.iter().map(|p| code(p.as_str())).collect();
    row(out, "Purposes", &purposes.join(", "));
    row(out, "Operator", &text(&info.operator));
    out.push_str("</table>\n</section>\n");
}

fn opt_out(info: &CrawlerInfo, out: &mut String) {
    section(out, "opt-out", "How to opt out");
    let token = info.product_tokens.first().map_or("", String::as_str);
    out.push_str(&format!(
        "<p>To keep the crawler away from your whole site, for every purpose, add to your robots.txt:</p>\n<pre>{}</pre>\n",
        text(&info.block_all)
    ));
    out.push_str(&format!(
        "<p>To reserve your content from one purpose only, add its lines to the robots.txt group that applies to {}: its own group if your robots.txt has one, else <code>User-agent: *</code>. Any one of the lines, headers or tags listed reserves the purpose.</p>\n",
        code(token)
    ));
    for o in &info.opt_out {
        let collected = if o.collected {
            "The crawler collects for this purpose"
        } else {
            "The crawler does not collect for this purpose at present"
        };
        out.push_str(&format!(
            "<h3 id=\"opt-out-{0}\">{0}</h3>\n<p>{1}.</p>\n<pre>{2}</pre>\n",
            text(o.purpose.as_str()),
            text(collected),
            text(&o.robots_txt)
        ));
        let list = |title: &str, items: &[String], out: &mut String| {
            if items.is_empty() {
                return;
            }
            out.push_str(&format!("<p>{}</p>\n<ul>\n", text(title)));
            for item in items {
                out.push_str(&format!("<li>{}</li>\n", code(item)));
            }
            out.push_str("</ul>\n");
        };
        list("Or a response header:", &o.headers, out);
        list("Or, in an HTML page:", &o.html, out);
    }
    out.push_str("</section>\n");
}

fn protocols(info: &CrawlerInfo, out: &mut String) {
    section(out, "protocols", "Protocols honoured");
    out.push_str("<table>\n<tr><th>Protocol</th><th>Specification and version</th><th>Read from</th><th>Reserves</th><th>Honoured</th></tr>\n");
    for p in &info.protocols {
        let from: Vec<String> = p.read_from.iter().map(|f| text(f)).collect();
        let purposes: Vec<String> = p.purposes.iter().map(|p| code(p.as_str())).collect();
        let honoured = if p.honoured {
            "yes".to_owned()
        } else {
            "<span class=\"no\">no (turned off in this configuration)</span>".to_owned()
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{honoured}</td></tr>\n",
            text(&p.name),
            text(&p.url),
            text(&p.specification),
            from.join("<br>"),
            purposes.join(", ")
        ));
    }
    out.push_str("</table>\n</section>\n");
}

fn behaviour(info: &CrawlerInfo, out: &mut String) {
    section(out, "behaviour", "Behaviour and politeness");
    out.push_str("<ul>\n");
    for line in &info.behaviour {
        out.push_str(&format!("<li>{}</li>\n", text(line)));
    }
    out.push_str("</ul>\n<table>\n");
    let p = &info.politeness;
    row(out, "Requests paced", if p.enabled { "yes" } else { "no" });
    row(
        out,
        "Least time between requests to one site",
        &text(&format!("{} ms, per {}", p.min_interval_ms, p.per)),
    );
    row(
        out,
        "Requests in flight to one site",
        &p.in_flight_per_host.to_string(),
    );
    row(
        out,
        "robots.txt Crawl-delay",
        &text(&format!(
            "honoured up to {} s; a site asking for more is not crawled",
            p.max_crawl_delay_s
        )),
    );
    row(
        out,
        "After a 429 or 503",
        &text(&format!(
            "Retry-After honoured up to {} s (else {} s, doubling); at most {} retries",
            p.max_backoff_s, p.backoff_s, p.max_retries
        )),
    );
    row(out, "Redirects followed", &p.max_redirects.to_string());
    out.push_str("</table>\n</section>\n");
}

fn ranges(info: &CrawlerInfo, out: &mut String) {
    section(out, "ip-ranges", "IP ranges");
    out.push_str(&format!(
        "<p>The crawler sends its requests from these ranges, also published as <a href=\"{}\">{}</a>.</p>\n",
        files::RANGES,
        files::RANGES
    ));
    if info.ip_ranges.is_empty() {
        out.push_str("<p>No ranges are published.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for range in &info.ip_ranges {
            out.push_str(&format!("<li>{}</li>\n", code(range)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn contact(info: &CrawlerInfo, out: &mut String) {
    section(out, "contact", "Contact and complaints");
    out.push_str("<table>\n");
    let email = &info.contact.email;
    row(
        out,
        "Point of contact",
        &format!("<a href=\"mailto:{0}\">{0}</a>", text(email)),
    );
    row(out, "Complaints", &link(&info.contact.complaint_url));
    row(out, "About the crawler", &link(&info.contact.info_url));
    out.push_str("</table>\n</section>\n");
}

fn updates(publication: &Publication, out: &mut String) {
    section(out, "updates", "Changes and evidence-log checkpoints");
    let journal = &publication.journal;
    out.push_str(&format!(
        "<p>Every decision of the crawler is kept in a hash-chained evidence log. Its latest published checkpoint: {}</p>\n",
        journal
            .checkpoint
            .as_ref()
            .map_or_else(|| "none yet (the log is empty).".to_owned(), |c| code(&c.to_string()))
    ));
    out.push_str(&format!(
        "<p>The latest changes (more in <a href=\"{}\">the feed</a>):</p>\n<ul>\n",
        files::FEED
    ));
    for entry in journal.entries.iter().take(10) {
        out.push_str(&format!(
            "<li>{}: {}</li>\n",
            text(&entry.updated),
            text(&entry.title)
        ));
    }
    out.push_str("</ul>\n</section>\n");
}
