"""A Scrapy crawl with OptoutMiddleware, run by test_scrapy.py in its own process (Scrapy's
reactor is once per process): ``python scrapy_crawl.py START_URL STORE OUT.json``.
Writes the items (pages the spider parsed) and what the download slots looked like."""

import json
import sys

import scrapy
from scrapy.crawler import CrawlerProcess

start, store, out = sys.argv[1:4]
seen = {"items": [], "slots": {}, "ignored": []}


class Site(scrapy.Spider):
    name = "site"
    start_urls = [start]

    def parse(self, response):
        seen["items"].append(response.url)
        for key, slot in self.crawler.engine.downloader.slots.items():
            seen["slots"][key] = {"delay": slot.delay, "jitter": getattr(slot, "jitter", None)}
        decision = response.meta["optout_decision"]
        assert decision.allowed and decision.seq is not None
        yield from response.follow_all(css="a", callback=self.parse)


process = CrawlerProcess(
    settings={
        "ROBOTSTXT_OBEY": False,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "optout.scrapy.OptoutMiddleware": 100,
        },
        "OPTOUT_STORE": store,
        "OPTOUT_AGENT": "mybot",
        "OPTOUT_PURPOSE": "train-ai",
        "OPTOUT_ALLOW_PRIVATE_ADDRESSES": True,
        "USER_AGENT": "mybot/1.0",
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
    }
)
crawler = process.create_crawler(Site)
process.crawl(crawler)
process.start()
seen["stats"] = {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("optout/")}
with open(out, "w") as f:
    json.dump(seen, f)
if not seen["items"]:
    sys.exit("the crawl parsed nothing (see the log above)")
