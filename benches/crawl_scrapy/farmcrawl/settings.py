"""Settings for the side-by-side crawl benchmark (benches/crawl.sh).

Politeness as optout's: robots.txt obeyed, one request in flight per host (per IP: the farm's
hosts are IP literals), a fixed delay between requests to one host, no AutoThrottle. Global
concurrency high enough that politeness, not Scrapy's own limit, bounds the rate.
"""
import os

BOT_NAME = "farmcrawl"
SPIDER_MODULES = ["farmcrawl.spiders"]
NEWSPIDER_MODULE = "farmcrawl.spiders"
USER_AGENT = "farmcrawl (+https://example.org/optout-crawler)"

ROBOTSTXT_OBEY = True
DOWNLOAD_DELAY = float(os.environ.get("INTERVAL_MS", "50")) / 1000.0
RANDOMIZE_DOWNLOAD_DELAY = False
CONCURRENT_REQUESTS = int(os.environ.get("SCRAPY_CONCURRENCY", "256"))
# One request in flight per host. The farm's hosts are IP literals and Scrapy's download
# slot is the host name without the port, so per domain is per IP here. (Scrapy 2.19's default
# DownloaderAwarePriorityQueue, the one meant for broad crawls, refuses
# CONCURRENT_REQUESTS_PER_IP; the per-domain slot gives the same pacing without giving it up.)
CONCURRENT_REQUESTS_PER_DOMAIN = 1
CONCURRENT_REQUESTS_PER_IP = 0
AUTOTHROTTLE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
RETRY_ENABLED = True
LOG_LEVEL = os.environ.get("SCRAPY_LOG_LEVEL", "INFO")
# Breadth-first, as optout's per-host queues are.
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
FEED_EXPORT_ENCODING = "utf-8"
