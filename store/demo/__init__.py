"""The demo shop 鹿鸣优选: a seeded generator (`generate`) and an idempotent loader (`load_demo`)."""

from store.demo.generator import DemoShop, generate
from store.demo.loader import DemoKeys, LoadReport, load_demo, read_keys

__all__ = ["DemoKeys", "DemoShop", "LoadReport", "generate", "load_demo", "read_keys"]
