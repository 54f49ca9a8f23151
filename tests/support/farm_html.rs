//! The farm's documents: HTML pages built from their links (so the model knows what each page
//! links to, and how), sitemaps (urlset, index) and gzip.

use std::fmt::Write as _;

/// An HTML page under construction: what it links to, and how.
#[derive(Clone, Debug, Default)]
pub struct Html {
    /// The `<title>`.
    pub title: String,
    /// `<meta name content>` elements.
    pub metas: Vec<(String, String)>,
    /// `<base href>`, if any (relative links below resolve against it).
    pub base: Option<String>,
    /// The markup of the links, in order.
    pub anchors: Vec<String>,
    /// Text inside the body (a marker, filler).
    pub text: String,
    /// Unclosed tags, stray bytes and bad nesting around the links.
    pub broken: bool,
    /// Resolved URLs to follow.
    pub follow: Vec<String>,
    /// Resolved URLs not to follow.
    pub nofollow: Vec<String>,
}

impl Html {
    /// An empty page titled `title`.
    pub fn new(title: &str) -> Html {
        Html {
            title: title.to_owned(),
            ..Html::default()
        }
    }

    /// `<a href="written">`, resolving to the absolute `url`.
    pub fn a(mut self, written: &str, url: &str) -> Html {
        self.anchors
            .push(format!("<a href=\"{written}\">{url}</a>"));
        self.follow.push(url.to_owned());
        self
    }

    /// `<area href>` inside a `<map>`.
    pub fn area(mut self, url: &str) -> Html {
        self.anchors.push(format!(
            "<map name=m><area shape=rect coords=0,0,1,1 href=\"{url}\"></map>"
        ));
        self.follow.push(url.to_owned());
        self
    }

    /// `<link rel=canonical href>` (written in the body: parsers accept it there too, but
    /// [`Html::render`] moves canonicals to the head).
    pub fn canonical(mut self, url: &str) -> Html {
        self.metas.push(("canonical".into(), url.to_owned()));
        self.follow.push(url.to_owned());
        self
    }

    /// `<a rel="nofollow" href>`.
    pub fn a_nofollow(mut self, url: &str) -> Html {
        self.anchors.push(format!(
            "<a rel=\"external nofollow\" href=\"{url}\">nf</a>"
        ));
        self.nofollow.push(url.to_owned());
        self
    }

    /// `<meta name="robots" content="nofollow">`: none of its links are followed.
    pub fn meta_nofollow(mut self) -> Html {
        self.metas.push(("robots".into(), "nofollow".into()));
        self.nofollow.append(&mut self.follow);
        self
    }

    /// `<base href>`.
    pub fn base(mut self, href: &str) -> Html {
        self.base = Some(href.to_owned());
        self
    }

    /// A `<meta name content>`.
    pub fn meta(mut self, name: &str, content: &str) -> Html {
        self.metas.push((name.to_owned(), content.to_owned()));
        self
    }

    /// Text in the body.
    pub fn text(mut self, text: &str) -> Html {
        self.text.push_str(text);
        self
    }

    /// Broken markup around the links.
    pub fn broken(mut self) -> Html {
        self.broken = true;
        self
    }

    /// The page's bytes.
    pub fn render(&self) -> Vec<u8> {
        let mut s = String::from("<!DOCTYPE html>\n<html><head><title>");
        s.push_str(&self.title);
        s.push_str("</title>\n");
        if let Some(base) = &self.base {
            let _ = writeln!(s, "<base href=\"{base}\">");
        }
        for (name, content) in &self.metas {
            if name == "canonical" {
                let _ = writeln!(s, "<link rel=\"canonical\" href=\"{content}\">");
            } else {
                let _ = writeln!(s, "<meta name=\"{name}\" content=\"{content}\">");
            }
        }
        s.push_str("</head><body>\n");
        if self.broken {
            s.push_str("<div><p><b>unclosed <i>nesting</b></i> <table><td>cell\n<");
        }
        for anchor in &self.anchors {
            s.push_str(anchor);
            s.push('\n');
        }
        s.push_str(&self.text);
        if self.broken {
            // No closing tags at all, a stray `<`, and a comment that never ends.
            s.push_str("\n< <<>> &bogus; <!-- never closed");
            return s.into_bytes();
        }
        s.push_str("\n</body></html>\n");
        s.into_bytes()
    }
}

/// The urlset XML listing `urls`.
pub fn sitemap_xml(urls: &[String]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for url in urls {
        let _ = writeln!(
            s,
            "<url><loc>{url}</loc><changefreq>daily</changefreq></url>"
        );
    }
    s.push_str("</urlset>\n");
    s
}

/// The sitemap index XML listing `sitemaps`.
pub fn sitemap_index_xml(sitemaps: &[String]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for url in sitemaps {
        let _ = writeln!(s, "<sitemap><loc>{url}</loc></sitemap>");
    }
    s.push_str("</sitemapindex>\n");
    s
}

/// `bytes` gzipped.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
