"""Hand-written shop-domain vocabulary for knowledge-base retrieval: concepts, stopwords and Chinese stop characters.

Each concept lists the ways customers and articles say the same thing. English entries are plain words or
phrases (stemmed when loaded, so "deliver" also covers "delivered"); entries with Chinese characters are matched
as substrings. A key may belong to several concepts.
"""

CONCEPTS: dict[str, tuple[str, ...]] = {
    "ship": (
        "ship", "shipping", "shipment", "deliver", "delivery", "dispatch", "courier", "carrier", "parcel",
        "package", "postage", "send", "send out", "get here", "arrive", "arrival", "transit", "come",
        "配送", "发货", "送达", "送到", "快递", "包裹", "寄送", "到货", "运送", "物流", "能到", "寄到", "到达", "收到",
    ),
    "time": (
        "when", "how long", "how soon", "how many days", "time", "eta", "soon", "quickly", "fast", "quick", "speed",
        "business day",
        "hour", "day", "week", "month",
        "什么时候", "多久", "几天", "时间", "多长时间", "工作日", "何时",
    ),
    "cost": (
        "cost", "price", "fee", "charge", "free of charge", "how much", "free", "expensive", "cheap", "postage",
        "pay for delivery", "pay for shipping", "pay for postage",
        "费用", "运费", "多少钱", "免费", "价格", "收费", "包邮",
    ),
    "abroad": (
        "international", "abroad", "overseas", "worldwide", "foreign", "customs", "duty", "import", "tax",
        "国际", "海外", "国外", "境外", "关税",
    ),
    # Places customers name instead of saying "abroad"; an article meets them through "country" / "countries".
    "country": (
        "country", "countries", "canada", "uk", "united kingdom", "britain", "england", "ireland", "usa",
        "united states", "america", "mexico", "brazil", "australia", "new zealand", "germany", "france", "spain",
        "italy", "netherlands", "belgium", "switzerland", "austria", "sweden", "norway", "denmark", "finland",
        "poland", "europe", "eu", "japan", "china", "korea", "india", "singapore", "hong kong", "taiwan", "asia",
        "africa",
        "国家", "中国", "加拿大", "英国", "美国", "澳大利亚", "德国", "法国", "日本", "欧洲", "新加坡", "香港", "台湾",
    ),
    "express": ("express", "expedited", "next day", "加急", "特快"),
    "return": (
        "return", "send back", "give back", "bring back", "take back", "ship back", "mail back", "post back",
        "退货", "退回", "寄回", "退",
    ),
    "refund": (
        "refund", "reimburse", "reimbursement", "reimbursed", "money", "money back", "repay", "paid back",
        "退款", "退钱", "返还",
    ),
    "exchange": (
        "exchange", "swap", "trade", "size", "colour", "color", "another one", "different one", "instead",
        "smaller", "medium", "larger", "bigger", "change size", "change colour", "change color",
        "换货", "换", "尺码", "颜色",
    ),
    "pay": (
        "pay", "paid", "payment", "card", "credit card", "debit card", "visa", "mastercard", "amex", "american express",
        "paypal", "apple pay", "google pay", "checkout", "billing", "bill", "take money", "take the money",
        "付款", "支付", "信用卡", "扣款", "付钱", "刷卡", "扣钱", "扣费",
    ),
    "track": (
        "track", "tracking", "trace", "where", "whereabouts", "status", "follow", "tracking number",
        "跟踪", "追踪", "查询", "查", "到哪", "在哪", "哪里", "运单", "单号", "物流",
    ),
    "cancel": (
        "cancel", "call off", "abort", "change", "edit", "modify", "amend", "mistake", "wrong", "address",
        "change my mind", "stop my order", "stop my purchase",
        "取消", "修改", "更改", "地址",
    ),
    "password": (
        "password", "login", "log", "sign in", "sign into", "signin", "locked out", "lock out", "credentials",
        "reset", "access",
        "forgot", "forget", "username",
        "密码", "登录", "登陆", "忘记", "重置",
    ),
    "delete": (
        "delete", "remove", "erase", "deactivate", "gdpr", "personal data", "privacy", "close account",
        "close profile",
        "删除", "注销", "隐私", "个人数据",
    ),
    "account": ("account", "profile", "账户", "账号", "帐户", "帐号"),
    "gift": (
        "gift", "voucher", "gift card", "gift certificate", "present", "store credit",
        "礼品卡", "礼物", "礼券", "购物卡",
    ),
    "warranty": (
        "warranty", "guarantee", "broken", "broke", "break", "defect", "defective", "faulty", "fault", "damaged",
        "damage", "repair", "stopped working", "not working", "doesn't work", "malfunction",
        "保修", "质保", "坏", "损坏", "故障", "质量问题",
    ),
    "order": ("order", "purchase", "bought", "buy", "订单", "下单", "购买", "买"),
}

# Shop topics customers ask about that an article may or may not cover. A question naming one that no article
# covers is about something else: the concept then counts fully against coverage instead of being mistaken for
# filler, so "my discount code is not working" is not answered from the warranty article.
OTHER_TOPICS: dict[str, tuple[str, ...]] = {
    "promo": (
        "discount", "discount code", "promo", "promo code", "promotion", "promotion code", "coupon", "coupon code",
        "voucher code", "student discount", "sale", "sales", "black friday", "clearance",
        "优惠", "优惠码", "折扣", "优惠券", "打折", "促销",
    ),
    "hours": (
        "opening hours", "opening times", "open hours", "opening time", "closing time", "business hours",
        "when are you open", "what time do you open", "what time do you close", "service hours",
        "customer service hours", "support hours",
        "营业时间", "几点开门", "几点关门", "营业",
    ),
    "store": (
        "store", "stores", "physical store", "physical shop", "showroom", "branch", "in person", "in store",
        "located", "location", "locations",
        "门店", "实体店", "线下店", "自提",
    ),
    "stock": ("in stock", "out of stock", "restock", "back in stock", "sold out", "availability",
              "有货", "缺货", "补货", "库存"),
    "lost": ("nothing arrived", "no parcel", "no package", "says delivered", "marked as delivered", "missing parcel",
             "missing package", "lost parcel", "lost package", "stolen", "没收到", "丢了", "丢失", "被偷", "显示已签收"),
    "declined": ("declined", "got declined", "was declined", "rejected", "payment failed", "被拒", "支付失败"),
    "wrap": ("gift wrap", "gift wrapping", "wrapping", "gift box", "礼品包装"),
    "loyalty": ("loyalty", "points", "reward", "rewards", "membership", "积分", "会员"),
    "job": ("job", "jobs", "career", "careers", "hiring", "vacancy", "vacancies", "招聘", "工作机会"),
    "phone": ("phone number", "telephone", "hotline", "call you", "电话", "客服电话"),
    "sizechart": ("size chart", "size guide", "measurements", "尺码表", "尺寸表"),
    "email": ("email address", "e-mail address", "邮箱", "电子邮箱", "邮件地址"),
    "balance": ("balance", "余额"),
    "price": ("price match", "price matching", "wholesale", "bulk order", "批发", "比价"),
}

# Concepts too common in a shop to carry a question on their own: "how many hours", "my order", "my account".
GENERIC_CONCEPTS: frozenset[str] = frozenset({"time", "order", "account", "country"})

# Words that carry no topic. Matched after stemming, and only once concepts have had their look (so "when" and
# "where" still signal a concept even though they are dropped as words).
STOPWORDS: frozenset[str] = frozenset("""
a an the i me my mine we us our ours you your yours he him his she her it its they them their this that these those
is am are was were be been being do does did doing done have has had having will would shall should can could may
might must to of in on at by for with from into onto about as and or but if so then than too very just also not no
yes there here what which who whom whose how why where when all any some each every again get got want need like
know take tell please thanks thank hi hello hey ok okay s t m d ll ve re don doesn didn won isn aren wasn weren hasn
haven hadn couldn wouldn shouldn ain im ive never ago yet until before after since during
stuff thing things something anything one now right still already ever really
""".split())

# Chinese function characters: bigrams containing one are mostly grammar ("我的", "什么"), not topic.
CJK_STOP_CHARS: frozenset[str] = frozenset("的了吗呢吧啊呀哦我你您他她它们是在有和与及就都也很么什怎哪这那个把被给让请问能可以要会想对还又嗯")
