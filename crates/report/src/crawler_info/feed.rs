//! `feed.atom`: the crawler's changes as an Atom feed (RFC 4287), one entry per change of a
//! published field and per published evidence-log checkpoint ([`super::journal`]).

use super::Publication;
use crate::escape::html as text;

/// The feed's text: the newest entries, newest first.
pub fn atom(publication: &Publication) -> String {
    let info = &publication.info;
    let journal = &publication.journal;
    // §4.2.15: the feed's `updated` is its most recent significant change: the newest entry.
    let updated = journal
        .entries
        .first()
        .map_or(journal.changed_at.as_str(), |e| e.updated.as_str());
    let token = info.product_tokens.first().map_or("", String::as_str);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    // §4.1.1: id, title and updated are required; author is, unless every entry has one
    // (§4.2.1); a link rel="self" is recommended.
    out.push_str(&format!("  <id>{}</id>\n", text(&journal.feed_id)));
    out.push_str(&format!(
        "  <title>{}</title>\n",
        text(&format!(
            "{token} crawler: changes and evidence-log checkpoints"
        ))
    ));
    out.push_str(&format!(
        "  <subtitle>{}</subtitle>\n",
        text(&format!(
            "Published by {} (Code of Practice, Copyright chapter, Measure 1.3(4))",
            info.operator
        ))
    ));
    out.push_str(&format!("  <updated>{}</updated>\n", text(updated)));
    out.push_str(&format!(
        "  <author>\n    <name>{}</name>\n    <email>{}</email>\n    <uri>{}</uri>\n  </author>\n",
        text(&info.operator),
        text(&info.contact.email),
        text(&info.links.page)
    ));
    out.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        text(&info.links.feed)
    ));
    out.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        text(&info.links.page)
    ));
    out.push_str(&format!(
        "  <generator version=\"{}\">optout</generator>\n",
        env!("CARGO_PKG_VERSION")
    ));
    for entry in &journal.entries {
        out.push_str("  <entry>\n");
        out.push_str(&format!("    <id>{}</id>\n", text(&entry.id)));
        out.push_str(&format!("    <title>{}</title>\n", text(&entry.title)));
        out.push_str(&format!(
            "    <updated>{}</updated>\n",
            text(&entry.updated)
        ));
        out.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            text(&info.links.page)
        ));
        out.push_str(&format!(
            "    <content type=\"text\">{}</content>\n",
            text(&entry.content)
        ));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}
