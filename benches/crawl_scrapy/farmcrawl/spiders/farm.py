"""Follows every link within the farm's hosts from the seeds, one JSONL item per page.

    scrapy crawl farm -a seeds=SEEDS.txt -O pages.jsonl
"""
from urllib.parse import urlsplit

from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


class FarmSpider(CrawlSpider):
    name = "farm"
    rules = (Rule(LinkExtractor(), callback="parse_item", follow=True),)

    def __init__(self, seeds=None, *args, **kwargs):
        with open(seeds, encoding="utf-8") as f:
            self.start_urls = [line.strip() for line in f if line.strip().startswith("http")]
        # The seeds' hosts (IP literals) are the scope, as `optout crawl --scope host`.
        self.allowed_domains = sorted({urlsplit(u).hostname for u in self.start_urls})
        super().__init__(*args, **kwargs)

    def parse_start_url(self, response, **kwargs):
        return [self.parse_item(response)]

    def parse_item(self, response):
        return {"url": response.url, "status": response.status, "bytes": len(response.body)}
