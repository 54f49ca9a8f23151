//! The AI Office's template for the public summary of training content (C(2025) 5235, 24
//! July 2025): its section titles and field labels, written as the template writes them, in
//! this one place. The Markdown and the JSON of `optout report --eu-summary` use them as
//! they are (`docs/report.md` lists them).

/// The template.
pub const TEMPLATE: &str = "Template for the Public Summary of Training Content for \
    general-purpose AI models (C(2025) 5235)";

/// Section 2.3.
pub const SECTION_2_3: &str = "2.3. Data crawled and scraped from online sources";
/// 2.3: Yes / No.
pub const CRAWLERS_USED: &str = "Were crawlers used by the provider or on behalf of?";
/// 2.3: text.
pub const CRAWLER_NAMES: &str = "If yes, specify crawler name(s)/identifier(s):";
/// 2.3: text.
pub const PURPOSES: &str = "Purposes of the crawler(s):";
/// 2.3: text.
pub const BEHAVIOUR: &str = "General description of crawler behaviour:";
/// 2.3: text ("From 01/2024 to 06/2026").
pub const PERIOD: &str = "Period of data collection:";
/// 2.3: text.
pub const CONTENT: &str =
    "Comprehensive description of the type of content and online sources crawled:";
/// 2.3: Text / Image / Video / Audio / Other.
pub const MODALITY: &str = "Type of modality covered:";
/// 2.3: the domain list.
pub const DOMAINS: &str = "Summary of the most relevant domain names crawled:";
/// 2.3 and 3.1: text.
pub const COMMENTS: &str = "Additional comments (optional):";

/// Section 3.1.
pub const SECTION_3_1: &str =
    "3.1. Respect of reservation of rights from the TDM exception or limitation";
/// 3.1: Yes / No.
pub const SIGNATORY: &str = "Are you a Signatory to the Code of Practice for general-purpose \
    AI models that includes commitments to respect reservations of rights from the TDM \
    exception or limitation?";
/// 3.1: text.
pub const MEASURES: &str = "Describe the measures implemented before model training to \
    respect reservations of rights from the TDM exception or limitation before and during \
    data collection, including the opt-out protocols and solutions honoured by the provider \
    or, as applicable, by third parties from which datasets have been obtained:";

/// What stands in a field only a person can fill in, while it is empty.
pub const TO_BE_COMPLETED: &str = "[TO BE COMPLETED by the provider]";
