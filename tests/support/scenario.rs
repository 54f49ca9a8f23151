//! The scenario farm of the crawl's integration tests: every scenario group of issue 13 on
//! five hosts, built on `farm.rs`. Used through `#[path = "support/scenario.rs"] mod
//! scenario;` next to `farm` and `server`.

#![allow(dead_code)]

use crate::farm::{self, Expect, Farm, FarmBuilder, Html, Page, Requests, Sitemap};
use crate::server::Reply;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The body a reserved page serves: a marker that must appear nowhere.
pub fn reserved_body(marker: &str) -> String {
    format!("<html><head><title>reserved</title></head><body><p>{marker}</p></body></html>")
}

fn reserved(
    marker: &str,
    header: Option<(&str, &str)>,
    verdict: &'static str,
    code: &'static str,
) -> Page {
    let mut reply = Reply::Fixed {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: reserved_body(marker).into(),
    };
    if let Some((name, value)) = header {
        reply = reply.header(name, value);
    }
    Page::dropped(
        reply,
        marker,
        Expect::not_kept(verdict, code),
        Requests::Between(1, 1),
    )
}

/// A page that answers `status` (429 or 503) with `Retry-After: 1` the first time, then
/// serves its body: requested twice, at least a second apart, and kept.
pub fn busy(status: u16) -> Page {
    let page = Page::kept(Html::new(&format!("busy ({status}), then served")));
    let (body, calls) = (page.body.clone(), Arc::new(AtomicUsize::new(0)));
    Page {
        reply: Reply::dynamic(move |_| match calls.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::text(status, "slow down").header("Retry-After", "1"),
            _ => Reply::ok(body.clone()).header("Content-Type", "text/html"),
        }),
        requests: Requests::Between(2, 2),
        ..page
    }
}

/// The scenario farm. Host 0 (two origins) is the main site, host 1 has a `Crawl-delay`,
/// host 2 answers 500 to everything (robots.txt too) and has an origin where nothing listens,
/// host 3 is out of scope, host 4 answers 500 to every page. Seeds: hosts 0, 1, 2, 4.
pub fn scenario() -> (Farm, Vec<String>) {
    let mut b = FarmBuilder::new(&[2, 1, 1, 1, 1]);
    let (a0, a1, h1, h2, h3, h4) = (
        b.base(0, 0),
        b.base(0, 1),
        b.base(1, 0),
        b.base(2, 0),
        b.base(3, 0),
        b.base(4, 0),
    );
    let dead = b.refused_origin(2);
    let u = |base: &str, path: &str| format!("{base}{path}");

    // Host 0, origin a0: every scenario of discovery and reservation.
    let home = Html::new("home")
        .a("/cycle/1.html", &u(&a0, "/cycle/1.html"))
        .a(&u(&a1, "/"), &u(&a1, "/"))
        .a(&u(&h1, "/"), &u(&h1, "/"))
        .a(&u(&h3, "/from-a0.html"), &u(&h3, "/from-a0.html"))
        .a("/private/secret.html", &u(&a0, "/private/secret.html"))
        .a("/cs/signal.html", &u(&a0, "/cs/signal.html"))
        .a("/tdm/file.html", &u(&a0, "/tdm/file.html"))
        .a_nofollow(&u(&a0, "/nf-only.html"))
        .a_nofollow(&u(&a0, "/nf-twice.html"))
        .a("/meta-nf.html", &u(&a0, "/meta-nf.html"))
        .a("/base/page.html", &u(&a0, "/base/page.html"))
        .area(&u(&a0, "/area-target.html"))
        .canonical(&u(&a0, "/canon.html"))
        .a("/broken.html", &u(&a0, "/broken.html"))
        .a("/huge.html", &u(&a0, "/huge.html"))
        .a("/r-in", &u(&a0, "/r-in"))
        .a("/r-out", &u(&a0, "/r-out"))
        .a("/busy.html", &u(&a0, "/busy.html"));
    let mut home = home;
    for path in [
        "/hdr-tdm.html",
        "/hdr-cu.html",
        "/hdr-noai.html",
        "/meta-tdm.html",
        "/meta-noai.html",
        "/s401.html",
        "/s402.html",
        "/s403.html",
        "/s500.html",
    ] {
        home = home.a(path, &u(&a0, path));
    }
    b.page(&u(&a0, "/"), Page::kept(home));
    b.page(
        &u(&a0, "/cycle/1.html"),
        Page::kept(Html::new("c1").a("2.html", &u(&a0, "/cycle/2.html"))),
    );
    b.page(
        &u(&a0, "/cycle/2.html"),
        Page::kept(
            Html::new("c2")
                .a("/", &u(&a0, "/"))
                .a("/cycle/1.html", &u(&a0, "/cycle/1.html"))
                .a("/nf-twice.html", &u(&a0, "/nf-twice.html")),
        ),
    );
    b.page(
        &u(&a0, "/nf-twice.html"),
        Page::kept(Html::new("linked with and without nofollow")),
    );
    for (path, marker) in [
        ("/private/secret.html", "MARK-robots-7c1"),
        ("/cs/signal.html", "MARK-signal-8d2"),
        ("/tdm/file.html", "MARK-tdmjson-9e3"),
        ("/nf-only.html", "MARK-nofollow-a14"),
        ("/meta-nf-child.html", "MARK-metanf-b25"),
    ] {
        b.page(
            &u(&a0, path),
            Page::dropped(
                Reply::ok(reserved_body(marker)),
                marker,
                Expect::Kept,
                Requests::Between(1, 1),
            ),
        );
    }
    b.page(
        &u(&a0, "/meta-nf.html"),
        Page::kept(
            Html::new("meta nofollow")
                .a("/meta-nf-child.html", &u(&a0, "/meta-nf-child.html"))
                .meta_nofollow(),
        ),
    );
    b.page(
        &u(&a0, "/base/page.html"),
        Page::kept(
            Html::new("base")
                .base(&u(&a0, "/base/dir/"))
                .a("child.html", &u(&a0, "/base/dir/child.html")),
        ),
    );
    b.page(
        &u(&a0, "/base/dir/child.html"),
        Page::kept(Html::new("base child")),
    );
    b.page(&u(&a0, "/area-target.html"), Page::kept(Html::new("area")));
    b.page(&u(&a0, "/canon.html"), Page::kept(Html::new("canonical")));
    b.page(
        &u(&a0, "/broken.html"),
        Page::kept(
            Html::new("broken <&>")
                .broken()
                .a("/broken-child.html", &u(&a0, "/broken-child.html")),
        ),
    );
    b.page(
        &u(&a0, "/broken-child.html"),
        Page::kept(Html::new("after broken markup")),
    );
    let filler = "<p>huge page filler, nothing to see here.</p>\n".repeat(70_000);
    b.page(
        &u(&a0, "/huge.html"),
        Page::kept(
            Html::new("huge")
                .a("/huge-child.html", &u(&a0, "/huge-child.html"))
                .text(&filler),
        ),
    );
    b.page(
        &u(&a0, "/huge-child.html"),
        Page::kept(Html::new("linked from the top of a huge page")),
    );
    b.page(
        &u(&a0, "/r-in"),
        Page::redirect(301, &u(&a0, "/r-in-target.html")),
    );
    b.page(
        &u(&a0, "/r-in-target.html"),
        Page::kept(Html::new("redirect target")),
    );
    b.page(
        &u(&a0, "/r-out"),
        Page::redirect(302, &u(&h3, "/r-out-target.html")),
    );
    b.page(&u(&a0, "/busy.html"), busy(429));
    // Reserved by the response headers, with a body that never ends: never read.
    let endless = Reply::Stream {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/html".into()),
            ("tdm-reservation".into(), "1".into()),
        ],
        prefix: reserved_body("MARK-hdrtdm-c36").into(),
        filler: vec![b'x'; 65536].into(),
        late: Default::default(),
        late_at: 0,
        total: 1 << 40,
    };
    b.page(
        &u(&a0, "/hdr-tdm.html"),
        Page::dropped(
            endless,
            "MARK-hdrtdm-c36",
            Expect::not_kept("discarded", "tdmrep.reserved"),
            Requests::Between(1, 1),
        ),
    );
    b.page(
        &u(&a0, "/hdr-cu.html"),
        reserved(
            "MARK-hdrcu-d47",
            Some(("Content-Usage", "train-ai=n")),
            "discarded",
            "aipref.",
        ),
    );
    b.page(
        &u(&a0, "/hdr-noai.html"),
        reserved(
            "MARK-hdrnoai-e58",
            Some(("X-Robots-Tag", "noai")),
            "discarded",
            "tags.noai",
        ),
    );
    let meta = |marker: &str, name: &str, content: &str| {
        format!(
            "<html><head><meta name=\"{name}\" content=\"{content}\"></head><body>{marker}</body></html>"
        )
    };
    let meta_tdm = meta("MARK-metatdm-f69", "tdm-reservation", "1");
    b.page(
        &u(&a0, "/meta-tdm.html"),
        Page::dropped(
            Reply::ok(meta_tdm).header("Content-Type", "text/html"),
            "MARK-metatdm-f69",
            Expect::not_kept("discarded", "tdmrep.reserved"),
            Requests::Between(1, 1),
        ),
    );
    let meta_noai = meta("MARK-metanoai-07a", "robots", "noai");
    b.page(
        &u(&a0, "/meta-noai.html"),
        Page::dropped(
            Reply::ok(meta_noai).header("Content-Type", "text/html"),
            "MARK-metanoai-07a",
            Expect::not_kept("discarded", "tags.noai"),
            Requests::Between(1, 1),
        ),
    );
    for (status, marker) in [
        (401, "MARK-s401-18b"),
        (402, "MARK-s402-29c"),
        (403, "MARK-s403-3ad"),
    ] {
        let reply = Reply::text(status, reserved_body(marker));
        b.page(
            &u(&a0, &format!("/s{status}.html")),
            Page::dropped(
                reply,
                marker,
                Expect::not_kept("refused", "access."),
                Requests::Between(1, 1),
            ),
        );
    }
    b.page(
        &u(&a0, "/s500.html"),
        Page::dropped(
            Reply::text(500, reserved_body("MARK-s500-4be")),
            "MARK-s500-4be",
            Expect::not_kept("failed", "fetch.server-error"),
            Requests::Between(1, 2),
        ),
    );
    // Sitemaps of a0: an index (from robots.txt) over a gzip file, a `.gz` served decompressed
    // and a text sitemap, each listing one page no link reaches.
    let orphans = ["/orphan-gz.html", "/orphan-plain.html", "/orphan-txt.html"].map(|p| u(&a0, p));
    for orphan in &orphans {
        b.page(orphan, Page::kept(Html::new("only in a sitemap")));
    }
    let children = ["/sm/a.xml.gz", "/sm/b.xml.gz", "/sm/c.txt"].map(|p| u(&a0, p));
    let gz = farm::gzip(farm::sitemap_xml(&orphans[..1]).as_bytes());
    let docs = [
        Reply::ok(gz).header("Content-Type", "application/gzip"),
        Reply::ok(farm::sitemap_xml(&orphans[1..2])).header("Content-Type", "application/xml"),
        Reply::ok(format!("{}\n", orphans[2])).header("Content-Type", "text/plain"),
    ];
    for (i, reply) in docs.into_iter().enumerate() {
        b.sitemap(
            &children[i],
            Sitemap {
                reply,
                urls: vec![orphans[i].clone()],
                children: vec![],
            },
        );
    }
    let index = u(&a0, "/sm/index.xml");
    b.sitemap(
        &index,
        Sitemap {
            reply: Reply::ok(farm::sitemap_index_xml(&children)),
            urls: vec![],
            children: children.to_vec(),
        },
    );
    let o = b.origin(&a0);
    o.disallow = vec!["/private/".into()];
    o.content_signal = vec!["/cs/".into()];
    o.tdmrep = vec!["/tdm/".into()];
    o.robots_sitemaps = vec![index];

    // Host 0, origin a1: a default /sitemap.xml.
    b.page(
        &u(&a1, "/"),
        Page::kept(
            Html::new("second origin")
                .a(&u(&a0, "/"), &u(&a0, "/"))
                .a("/busy503.html", &u(&a1, "/busy503.html")),
        ),
    );
    b.page(&u(&a1, "/busy503.html"), busy(503));
    b.page(
        &u(&a1, "/orphan-default.html"),
        Page::kept(Html::new("only in /sitemap.xml")),
    );
    let listed = vec![u(&a1, "/orphan-default.html")];
    b.sitemap(
        &u(&a1, "/sitemap.xml"),
        Sitemap {
            reply: Reply::ok(farm::sitemap_xml(&listed)),
            urls: listed,
            children: vec![],
        },
    );

    // Host 1: a crawl-delay of 0.3 s, a cycle of three pages.
    for i in 0..3 {
        let path = |j: usize| {
            if j == 0 {
                "/".to_owned()
            } else {
                format!("/d{j}.html")
            }
        };
        b.page(
            &u(&h1, &path(i)),
            Page::kept(
                Html::new(&format!("delayed {i}"))
                    .a(&path((i + 1) % 3), &u(&h1, &path((i + 1) % 3))),
            ),
        );
    }
    b.origin(&h1).crawl_delay_ms = Some(300);

    // Host 2: robots.txt answers 500 (nothing may be fetched), and an origin that refuses.
    b.origin(&h2).always_500 = true;
    // Host 3: out of scope.
    for path in ["/from-a0.html", "/r-out-target.html"] {
        let marker = format!("MARK-outofscope{}", path.len());
        b.page(
            &u(&h3, path),
            Page::dropped(
                Reply::ok(reserved_body(&marker)),
                &marker,
                Expect::Kept,
                Requests::Between(1, 1),
            ),
        );
    }
    // Host 4: every page answers 500, so the host is given up after `host_max_errors`.
    let mut failing = Html::new("links to failing pages");
    for i in 0..10 {
        failing = failing.a(&format!("/e/{i}.html"), &u(&h4, &format!("/e/{i}.html")));
        let expect = Expect::NotKept {
            verdicts: &["failed", "skipped"],
            codes: &["fetch.server-error", "crawl.host-gave-up"],
        };
        b.page(
            &u(&h4, &format!("/e/{i}.html")),
            Page::dropped(
                Reply::text(500, "MARK-e500"),
                "MARK-e500",
                expect,
                Requests::Between(0, 2),
            ),
        );
    }
    b.page(&u(&h4, "/"), Page::kept(failing));
    let seeds = vec![
        u(&a0, "/"),
        u(&h1, "/"),
        u(&h2, "/"),
        u(&dead, "/"),
        u(&h4, "/"),
    ];
    (b.build(), seeds)
}
