"""The catalog: categories, subcategories, brands, prices, and each product's latent vector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomm.datagen.columns import Columns
from ecomm.datagen.pools import NamePools
from ecomm.datagen.writer import dates, money


@dataclass(frozen=True)
class Category:
    name: str
    weight: float  # share of the catalog
    price_median: float  # list price, dollars
    price_sigma: float  # lognormal spread of list prices
    cost_ratio: tuple[float, float]  # unit_cost / list_price range
    return_logit: float  # added to the return model's logit (fashion sizing returns a lot)
    brand_suffixes: tuple[str, ...]
    subcategories: tuple[tuple[str, tuple[str, ...]], ...]  # (name, product nouns)


# fmt: off
CATEGORIES: tuple[Category, ...] = (
    Category("Electronics", 0.12, 90, 0.8, (0.60, 0.80), 0.0, ("Tech", "Audio", "Labs", "Digital"), (
        ("Audio", ("Headphones", "Earbuds", "Speaker", "Soundbar")),
        ("Computers", ("Keyboard", "Mouse", "Monitor", "USB Hub", "Laptop Stand")),
        ("Phones & Accessories", ("Phone Case", "Charger", "Power Bank", "Screen Protector")),
        ("Smart Home", ("Smart Plug", "Security Camera", "Smart Bulb", "Thermostat")))),
    Category("Fashion", 0.20, 35, 0.6, (0.35, 0.55), 1.0, ("Wear", "& Co", "Apparel", "Studio"), (
        ("Women", ("Dress", "Blouse", "Skirt", "Cardigan")),
        ("Men", ("Shirt", "Chinos", "Jacket", "Sweater")),
        ("Shoes", ("Sneakers", "Boots", "Sandals", "Loafers")),
        ("Accessories", ("Scarf", "Belt", "Handbag", "Sunglasses")))),
    Category("Home & Kitchen", 0.16, 40, 0.7, (0.45, 0.65), -0.2, ("Home", "Living", "Kitchenware", "Interiors"), (
        ("Kitchen", ("Chef Knife", "Frying Pan", "Blender", "Coffee Grinder", "Cutting Board")),
        ("Furniture", ("Side Table", "Bookshelf", "Desk Chair", "Floor Lamp")),
        ("Bedding", ("Duvet Cover", "Pillow", "Throw Blanket", "Sheet Set")),
        ("Decor", ("Vase", "Wall Clock", "Picture Frame", "Candle")))),
    Category("Beauty", 0.12, 18, 0.5, (0.30, 0.50), -0.6, ("Beauty", "Cosmetics", "Naturals", "Skin"), (
        ("Skincare", ("Face Serum", "Moisturizer", "Cleanser", "Sunscreen")),
        ("Makeup", ("Lipstick", "Mascara", "Foundation", "Eyeshadow Palette")),
        ("Hair Care", ("Shampoo", "Conditioner", "Hair Oil", "Hair Dryer")),
        ("Fragrance", ("Eau de Parfum", "Body Mist", "Cologne")))),
    Category("Sports", 0.10, 45, 0.7, (0.45, 0.65), 0.1, ("Sports", "Athletics", "Outdoor", "Active"), (
        ("Fitness", ("Yoga Mat", "Dumbbell Set", "Resistance Bands", "Kettlebell")),
        ("Outdoor", ("Tent", "Hiking Backpack", "Water Bottle", "Headlamp")),
        ("Cycling", ("Bike Helmet", "Bike Light", "Cycling Gloves")),
        ("Team Sports", ("Football", "Basketball", "Shin Guards")))),
    Category("Books", 0.12, 14, 0.4, (0.50, 0.70), -1.2, ("Press", "Books", "Publishing", "House"), (
        ("Fiction", ("Novel", "Thriller", "Short Stories")),
        ("Non-fiction", ("Biography", "History Book", "Essay Collection")),
        ("Children", ("Picture Book", "Activity Book", "Bedtime Stories")),
        ("Cookbooks", ("Cookbook", "Baking Guide")))),
    Category("Toys", 0.08, 25, 0.6, (0.40, 0.60), -0.4, ("Toys", "Play", "Kids", "Fun"), (
        ("Building", ("Building Blocks", "Construction Set", "Marble Run")),
        ("Games", ("Board Game", "Puzzle", "Card Game")),
        ("Dolls & Figures", ("Action Figure", "Doll", "Plush Toy")),
        ("Outdoor Play", ("Kite", "Scooter", "Water Blaster")))),
    Category("Grocery", 0.10, 7, 0.5, (0.55, 0.75), -2.0, ("Foods", "Pantry", "Farms", "Organics"), (
        ("Coffee & Tea", ("Coffee Beans", "Green Tea", "Espresso Pods")),
        ("Snacks", ("Trail Mix", "Dark Chocolate", "Granola Bars")),
        ("Pantry", ("Olive Oil", "Pasta", "Spice Set", "Honey")),
        ("Beverages", ("Sparkling Water", "Juice", "Kombucha")))),
)
# fmt: on
CATEGORY_NAMES = tuple(c.name for c in CATEGORIES)
CATEGORY_WEIGHTS = np.array([c.weight for c in CATEGORIES]) / sum(c.weight for c in CATEGORIES)
CATEGORY_RETURN_LOGIT = np.array([c.return_logit for c in CATEGORIES])
SUBCATEGORIES = tuple((ci, name) for ci, c in enumerate(CATEGORIES) for name, _ in c.subcategories)
SUBCATEGORY_NAMES = tuple(name for _, name in SUBCATEGORIES)
NOUNS = tuple(
    (si, noun)
    for si, (ci, _) in enumerate(SUBCATEGORIES)
    for noun in dict(CATEGORIES[ci].subcategories)[SUBCATEGORY_NAMES[si]]
)
NOUN_NAMES = tuple(n for _, n in NOUNS)
# fmt: off
ADJECTIVES = ("Classic", "Essential", "Pro", "Ultra", "Eco", "Deluxe", "Compact", "Premium", "Everyday",
              "Signature", "Urban", "Vintage", "Smart", "Lite", "Max", "Original", "Modern", "Organic",
              "Heritage", "Sport")
# fmt: on
BRANDS_PER_CATEGORY = 10
LOG_PRICE_CENTER = float(np.log(25.0))  # price term of the true score is relative to a $25 item

PRODUCT_DTYPES = dict(
    category=np.int16,
    subcategory=np.int16,
    noun=np.int16,
    brand=np.int16,
    adjective=np.int16,
    list_cents=np.int64,
    cost_cents=np.int64,
    popularity=np.float64,
    log_price=np.float64,
    launch=np.int32,
)


@dataclass(frozen=True)
class CatalogModel:
    """Fixed per world: category centroids in taste space and brand popularity."""

    centroids: np.ndarray  # (n_categories, k)
    brand_names: np.ndarray  # (n_categories * BRANDS_PER_CATEGORY,) object
    brand_bias: np.ndarray  # (n_brands,)


def build_catalog_model(rng: np.random.Generator, k: int, pools: NamePools) -> CatalogModel:
    centroids = rng.normal(0.0, 0.55, size=(len(CATEGORIES), k))
    names = []
    for c in CATEGORIES:
        stems = rng.choice(pools.brand_stems, BRANDS_PER_CATEGORY, replace=False)
        suffixes = rng.choice(np.array(c.brand_suffixes, dtype=object), BRANDS_PER_CATEGORY)
        names += [f"{s} {x}" for s, x in zip(stems, suffixes, strict=True)]
    brand_bias = rng.normal(0.0, 0.3, size=len(names))
    return CatalogModel(centroids, np.array(names, dtype=object), brand_bias)


def draw_products(
    rng: np.random.Generator, model: CatalogModel, launch: np.ndarray
) -> tuple[dict, np.ndarray]:
    """Attributes (PRODUCT_DTYPES columns) and latent vectors (n, k) of len(launch) new products."""
    n = len(launch)
    k = model.centroids.shape[1]
    category = rng.choice(len(CATEGORIES), n, p=CATEGORY_WEIGHTS)
    sub_of = np.array([ci for ci, _ in SUBCATEGORIES])
    noun_of = np.array([si for si, _ in NOUNS])
    subcategory = np.empty(n, dtype=np.int64)
    noun = np.empty(n, dtype=np.int64)
    median = np.array([c.price_median for c in CATEGORIES])[category]
    sigma = np.array([c.price_sigma for c in CATEGORIES])[category]
    lo = np.array([c.cost_ratio[0] for c in CATEGORIES])[category]
    hi = np.array([c.cost_ratio[1] for c in CATEGORIES])[category]
    u_sub, u_noun = rng.random(n), rng.random(n)
    for ci in range(len(CATEGORIES)):  # per category (8), not per product
        rows = category == ci
        subs = np.flatnonzero(sub_of == ci)
        subcategory[rows] = subs[(u_sub[rows] * len(subs)).astype(int)]
    for si in range(len(SUBCATEGORIES)):
        rows = subcategory == si
        nouns = np.flatnonzero(noun_of == si)
        noun[rows] = nouns[(u_noun[rows] * len(nouns)).astype(int)]
    brand = category * BRANDS_PER_CATEGORY + rng.integers(0, BRANDS_PER_CATEGORY, n)
    dollars = median * np.exp(rng.normal(0.0, sigma))
    list_cents = np.maximum(np.round(dollars) * 100 - 1, 99).astype(np.int64)  # $x.99 price points
    cost_cents = np.round(list_cents * rng.uniform(lo, hi)).astype(np.int64)
    popularity = rng.normal(0.0, 0.6, n) + model.brand_bias[brand]
    vectors = model.centroids[category] + rng.normal(0.0, 0.45, size=(n, k))
    attrs = dict(
        category=category,
        subcategory=subcategory,
        noun=noun,
        brand=brand,
        adjective=rng.integers(0, len(ADJECTIVES), n),
        list_cents=list_cents,
        cost_cents=cost_cents,
        popularity=popularity,
        log_price=np.log(list_cents / 100.0),
        launch=launch,
    )
    return {k: np.asarray(v, dtype=PRODUCT_DTYPES[k]) for k, v in attrs.items()}, vectors


def product_table(products: Columns, rows: np.ndarray, model: CatalogModel) -> pa.Table:
    """The products.csv rows of `rows` (product_id = row + 1)."""
    brand = model.brand_names[products.brand[rows]]
    adjective = np.array(ADJECTIVES, dtype=object)[products.adjective[rows]]
    noun = np.array(NOUN_NAMES, dtype=object)[products.noun[rows]]
    name = pc.binary_join_element_wise(
        pa.array(brand, pa.string()), pa.array(adjective, pa.string()), pa.array(noun, pa.string()), " "
    )
    return pa.table(
        {
            "product_id": pa.array(rows + 1, pa.int64()),
            "product_name": name,
            "category": pa.array(
                np.array(CATEGORY_NAMES, dtype=object)[products.category[rows]], pa.string()
            ),
            "subcategory": pa.array(
                np.array(SUBCATEGORY_NAMES, dtype=object)[products.subcategory[rows]], pa.string()
            ),
            "brand": pa.array(brand, pa.string()),
            "list_price": money(products.list_cents[rows]),
            "unit_cost": money(products.cost_cents[rows]),
            "launch_date": dates(products.launch[rows]),
        }
    )
