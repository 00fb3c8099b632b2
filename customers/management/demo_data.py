"""Realistic Taiwanese and mainland Chinese customers for the demo and for load tests.

Everything here is plain data and fast generators driven by a `random.Random`, so the same seed
always produces the same people. Names are written the way each market writes them: Traditional
characters for Taiwan, Simplified for the mainland.
"""

import datetime as dt
import itertools
import random

TW, CN, EN = "tw", "cn", "en"


def _words(text: str) -> list[str]:
    return text.split()


TW_SURNAMES = {
    "陳": 11, "林": 8, "黃": 6, "張": 5, "李": 5, "王": 4, "吳": 4, "劉": 3, "蔡": 3, "楊": 3,
    "許": 2, "鄭": 2, "謝": 2, "郭": 2, "洪": 2, "曾": 2, "邱": 2, "廖": 2, "賴": 2, "周": 1,
    "徐": 1, "蘇": 1, "葉": 1, "莊": 1, "呂": 1, "江": 1, "何": 1, "蕭": 1, "羅": 1, "高": 1,
    "潘": 1, "簡": 1, "朱": 1, "鍾": 1, "彭": 1, "游": 1, "詹": 1, "胡": 1, "施": 1, "沈": 1,
}  # fmt: skip
TW_GIVEN = _words(
    "志明 淑芬 雅婷 怡君 家豪 冠宇 宗翰 美玲 俊傑 佳穎 思妤 承恩 詩涵 建宏 玉珍 秀英 欣怡 柏翰 宜蓁 凱翔 "
    "品妤 子晴 彥廷 瑋婷 佩君 文傑 惠婷 嘉玲 信宏 育誠 淑惠 麗華 明哲 雅雯 宏達 靜怡 俊宏 郁婷 家瑋 昱辰 "
    "宇軒 婉婷 書豪 政宏 偉倫 筱涵 芷瑄 冠廷 雅琪 慧君 志豪 美惠 國華 秀鳳 振宇 心怡 建志 佳蓉 奕辰 芳儀"
)
CN_SURNAMES = {
    "王": 7, "李": 7, "张": 7, "刘": 5, "陈": 5, "杨": 3, "黄": 2, "赵": 2, "吴": 2, "周": 2,
    "徐": 2, "孙": 2, "马": 1, "朱": 1, "胡": 1, "郭": 1, "何": 1, "高": 1, "林": 1, "罗": 1,
    "郑": 1, "梁": 1, "谢": 1, "宋": 1, "唐": 1, "许": 1, "韩": 1, "冯": 1, "邓": 1, "曹": 1,
    "彭": 1, "曾": 1, "肖": 1, "田": 1, "董": 1, "袁": 1, "潘": 1, "蒋": 1, "蔡": 1, "于": 1,
}  # fmt: skip
CN_GIVEN = _words(
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 秀英 桂英 秀兰 建华 晓东 子轩 浩然 雨涵 "
    "欣怡 梓涵 思远 志强 海燕 建国 晓明 丽娟 文博 俊杰 佳怡 一鸣 雪梅 宇航 诗琪 晨曦 嘉豪 婷婷 鹏飞 春梅 "
    "国华"
)
EN_FIRST = _words(
    "Kevin Amy Jason Vivian Eric Grace Jack Tina Allen Irene David Cindy Peter Joyce Andy Winnie Steven "
    "Sharon Ivy Leo Michelle Ken Angela Sam Brian Emily Vincent Iris"
)
EN_LAST = _words(
    "Chen Lin Huang Chang Lee Wang Wu Liu Tsai Yang Hsu Cheng Hsieh Kuo Hung Tseng Chiu Liao Lai Chou Zhang "
    "Li Zhao Sun Zhou Xu Ma Hu Guo"
)
ORG_PREFIX = {
    TW: _words(
        "星辰 宏達 永豐 晨光 大安 福爾摩沙 綠意 鼎盛 日昇 好食 山海 和泰 立德 群英 信義 安心 玉山 北辰"
    ),
    CN: _words("恒信 云启 青禾 博远 华夏 锦程 鑫源 启航 东方 睿智 鸿运 天成 众合 远景"),
}
ORG_INDUSTRY = {
    TW: _words("科技 貿易 餐飲 精密工業 文創 物流 生技 建設 旅行社 國際 食品 設計"),
    CN: ["科技", "贸易", "电子商务", "咨询", "物流", "文化传媒", "电子", "实业", "建材", "食品"],
}
ORG_SUFFIX = {TW: ["股份有限公司", "有限公司", "企業社"], CN: ["有限公司", "股份有限公司", "有限责任公司"]}
CN_CITIES = ["上海", "深圳", "杭州", "北京", "广州", "苏州", "成都", "厦门"]
EN_ORG = (
    ["Formosa", "Pacific Rim", "Blue Harbor", "Jade Mountain", "Evergreen", "Sunrise", "Harbour View"],
    ["Trading", "Logistics", "Tech", "Foods", "Outdoor", "Design"],
    ["Co., Ltd.", "Ltd.", "Inc."],
)
SOURCES = {
    TW: ["官網表單", "LINE官方帳號", "門市", "電話進線", "展覽會", "轉介紹", "Facebook廣告", "蝦皮商城"],
    CN: ["微信公众号", "天猫旗舰店", "小红书", "抖音直播", "电话咨询", "展会", "老客户推荐"],
    EN: ["Website", "Referral", "Trade show", "LINE官方帳號"],
}
TAGS = [  # (name, Bootstrap colour)
    ("VIP", "warning"),
    ("回購客", "success"),
    ("LINE好友", "success"),
    ("微信好友", "success"),
    ("潛在客戶", "info"),
    ("企業客戶", "primary"),
    ("新客", "info"),
    ("流失風險", "danger"),
    ("投訴處理中", "danger"),
    ("電子報訂閱", "secondary"),
]
MAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com"]
SURNAME_LATIN = {  # how each surname is usually spelt in an e-mail address, Taiwanese or pinyin
    "陳": "chen", "林": "lin", "黃": "huang", "張": "chang", "李": "lee", "王": "wang", "吳": "wu",
    "劉": "liu", "蔡": "tsai", "楊": "yang", "許": "hsu", "鄭": "cheng", "謝": "hsieh", "郭": "kuo",
    "洪": "hung", "曾": "tseng", "邱": "chiu", "廖": "liao", "賴": "lai", "周": "chou", "徐": "hsu",
    "蘇": "su", "葉": "yeh", "莊": "chuang", "呂": "lu", "江": "chiang", "何": "ho", "蕭": "hsiao",
    "羅": "lo", "高": "kao", "潘": "pan", "簡": "chien", "朱": "chu", "鍾": "chung", "彭": "peng",
    "游": "yu", "詹": "chan", "胡": "hu", "施": "shih", "沈": "shen",
    "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "黄": "huang", "赵": "zhao", "吴": "wu",
    "孙": "sun", "马": "ma", "郑": "zheng", "梁": "liang", "谢": "xie", "宋": "song", "唐": "tang",
    "许": "xu", "韩": "han", "冯": "feng", "邓": "deng", "曹": "cao", "肖": "xiao", "田": "tian",
    "董": "dong", "袁": "yuan", "蒋": "jiang", "于": "yu", "罗": "luo",
}  # fmt: skip
LIFECYCLE_WEIGHTS = {"lead": 30, "prospect": 20, "customer": 42, "churned": 8}

PRODUCTS = {
    TW: _words("保溫瓶 空氣清淨機 除濕機 咖啡豆禮盒 登山背包 藍牙耳機 烏龍茶禮盒 按摩椅 電動牙刷 行李箱"),
    CN: ["空气净化器", "扫地机器人", "茶叶礼盒", "蓝牙耳机", "行李箱", "电饭煲", "护肤套装", "咖啡机"],
}

# (kind, channel, summary, weight, by whom: "owner", "agent" or None for the customer or the system)
TIMELINE = {
    TW: [
        ("call", "phone", "來電詢問{product}的保固範圍", 6, "agent"),
        ("call", "phone", "外撥回訪：確認{product}使用狀況，客戶滿意", 4, "owner"),
        ("call", "phone", "未接來電，已留言請客戶回電", 3, "agent"),
        ("call", "phone", "客戶來電要求修改發票抬頭", 2, "agent"),
        ("call", "phone", "來電詢問訂單 #{order} 出貨進度", 4, "agent"),
        ("message_in", "line", "請問週末門市有營業嗎？", 3, None),
        ("message_in", "line", "我想更改訂單 #{order} 的收件地址", 3, None),
        ("message_in", "line", "收到了，謝謝！", 4, None),
        ("message_in", "line", "優惠券要怎麼使用？結帳時找不到", 2, None),
        ("message_in", "line", "{product}還有現貨嗎？", 4, None),
        ("message_out", "line", "您好，訂單 #{order} 已出貨，黑貓宅急便單號 {tracking}", 4, "owner"),
        ("message_out", "line", "已為您更改收件地址，預計明天送達", 2, "owner"),
        ("message_out", "line", "{product}目前有現貨，今天下單明天出貨喔！", 3, "owner"),
        ("note", "crm", "客戶偏好下午 2–5 點聯絡", 2, "owner"),
        ("note", "crm", "已寄送{product}型錄與價目表", 2, "owner"),
        ("note", "crm", "客戶考慮團購 20 組，下週再確認數量", 1, "owner"),
        ("order", "web", "訂單 #{order} 成立：{product} × {qty}，NT${amount}", 5, None),
        ("order", "in_person", "門市消費：{product}，NT${amount}", 2, None),
        ("ticket", "phone", "工單 #{ticket} 開立：{product}瑕疵申請換貨", 2, "agent"),
        ("ticket", "email", "工單 #{ticket} 已結案，客戶確認收到新品", 1, "agent"),
        ("follow", "line", "加入 LINE 官方帳號好友", 2, None),
        ("postback", "line", "參加「週年慶抽獎」活動", 2, None),
        ("broadcast", "line", "收到推播：雙11限時優惠 全館滿千折百", 3, None),
        ("deal", "crm", "商機「{product}年度採購」進入報價階段", 1, "owner"),
        ("quote", "email", "寄出報價單 Q-2026-{quote}，金額 NT${big_amount}", 1, "owner"),
    ],
    CN: [
        ("message_in", "wechat", "你好，请问{product}还有货吗？", 5, None),
        ("message_in", "wechat", "发票什么时候能开？", 3, None),
        ("message_in", "wechat", "可以发顺丰吗？", 3, None),
        ("message_in", "wechat", "订单 #{order} 还没收到，麻烦查一下", 3, None),
        ("message_out", "wechat", "您好，已为您安排顺丰发货，单号 SF{tracking}", 4, "owner"),
        ("message_out", "wechat", "感谢关注！回复 1 查看本月优惠", 2, None),
        ("call", "phone", "来电咨询{product}的售后政策", 4, "agent"),
        ("call", "phone", "回访：客户对{product}很满意，考虑再次购买", 3, "owner"),
        ("call", "phone", "未接通，稍后再联系", 3, "agent"),
        ("note", "crm", "客户对价格敏感，折扣需主管审批", 2, "owner"),
        ("note", "crm", "客户希望通过微信沟通，不方便接电话", 1, "owner"),
        ("order", "web", "订单 #{order} 已付款：{product} × {qty}，¥{amount_cny}", 5, None),
        ("ticket", "wechat", "工单 #{ticket}：{product}无法开机，申请维修", 2, "agent"),
        ("ticket", "phone", "工单 #{ticket} 已解决，客户确认", 1, "agent"),
        ("follow", "wechat", "关注公众号", 2, None),
        ("postback", "wechat", "参与「扫码领券」活动", 2, None),
        ("broadcast", "wechat", "收到群发：618 年中大促预告", 3, None),
        ("deal", "crm", "商机「{product}渠道合作」进入谈判阶段", 1, "owner"),
        ("quote", "email", "发送报价单 Q-2026-{quote}，金额 ¥{big_amount_cny}", 1, "owner"),
    ],
    EN: [
        ("call", "phone", "Called back about the quote; asked for a 5% volume discount", 3, "owner"),
        ("call", "phone", "Asked whether the {product} ships to Hong Kong", 2, "agent"),
        ("message_in", "email", "Please send the invoice for order #{order} to our accounting team", 3, None),
        ("message_out", "email", "Sent the invoice for order #{order}", 2, "owner"),
        ("message_in", "line", "Hi, is the {product} back in stock?", 3, None),
        ("message_out", "line", "Yes, it is. Shall I reserve one for you?", 2, "owner"),
        ("note", "crm", "Prefers e-mail; English speaker, based in Taipei", 2, "owner"),
        ("order", "web", "Order #{order}: {product} × {qty}, NT${amount}", 4, None),
        ("ticket", "email", "Ticket #{ticket} opened: {product} arrived damaged", 1, "agent"),
        ("quote", "email", "Quote Q-2026-{quote} sent, NT${big_amount}", 1, "owner"),
    ],
}
# Follow, postback and broadcast happen on the customer's social channel; they are the only kinds
# the customer can have without anybody in the company doing anything.


def _weighted(mapping_or_pairs):
    pairs = list(mapping_or_pairs.items()) if isinstance(mapping_or_pairs, dict) else list(mapping_or_pairs)
    values = [value for value, _weight in pairs]
    cumulative = list(itertools.accumulate(weight for _value, weight in pairs))
    return values, cumulative


_TW_SURNAMES = _weighted(TW_SURNAMES)
_CN_SURNAMES = _weighted(CN_SURNAMES)
_LIFECYCLE = _weighted(LIFECYCLE_WEIGHTS)
_TIMELINE = {
    locale: _weighted((entry, entry[3]) for entry in entries) for locale, entries in TIMELINE.items()
}


def pick(rng: random.Random, weighted):
    values, cumulative = weighted
    return rng.choices(values, cum_weights=cumulative)[0]


def person_name(rng: random.Random, locale: str) -> str:
    if locale == TW:
        return pick(rng, _TW_SURNAMES) + rng.choice(TW_GIVEN)
    if locale == CN:
        return pick(rng, _CN_SURNAMES) + rng.choice(CN_GIVEN)
    return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"


def organisation_name(rng: random.Random, locale: str) -> str:
    if locale == TW:
        return rng.choice(ORG_PREFIX[TW]) + rng.choice(ORG_INDUSTRY[TW]) + rng.choice(ORG_SUFFIX[TW])
    if locale == CN:
        return (
            rng.choice(CN_CITIES)
            + rng.choice(ORG_PREFIX[CN])
            + rng.choice(ORG_INDUSTRY[CN])
            + rng.choice(ORG_SUFFIX[CN])
        )
    prefix, trade, suffix = EN_ORG
    return f"{rng.choice(prefix)} {rng.choice(trade)} {rng.choice(suffix)}"


def email_for(name: str, n: int, rng: random.Random) -> str:
    """A plausible address at a reserved example domain, unique through `n`."""
    local = name.lower().replace(" ", ".") if " " in name else SURNAME_LATIN.get(name[:1], "member")
    return f"{local}.{n:x}@{rng.choice(MAIL_DOMAINS)}"


def lifecycle(rng: random.Random) -> str:
    return pick(rng, _LIFECYCLE)


# Phone numbers. Generated numbers come from a bijection of the customer id, so they are unique
# without any bookkeeping, and avoid the 091x/092x blocks that the hand-written demo customers use.
_TW_MOBILE_SPACE = 6 * 10**7  # 093x… to 098x…
_CN_MOBILE_PREFIXES = _words(
    "130 131 132 133 136 137 150 151 152 153 155 156 158 159 176 177 180 182 187 188 189 199"
)


def tw_mobile(n: int) -> str:
    """National digits (without the trunk 0) of the n-th generated Taiwanese mobile: 9xxxxxxxx."""
    x = (n * 48271 + 12345) % _TW_MOBILE_SPACE
    return f"9{3 + x // 10**7}{x % 10**7:07d}"


def cn_mobile(n: int) -> str:
    x = (n * 48271 + 777) % 10**8
    return f"{_CN_MOBILE_PREFIXES[n % len(_CN_MOBILE_PREFIXES)]}{x:08d}"


def demo_mobile(n: int, market: str) -> str:
    """National digits of the n-th mobile of the small demo set: 091x/092x in Taiwan, and mainland
    prefixes the generated load never uses, so demo numbers stay unique however big the load."""
    x = (n * 7919 + 4242) % (2 * 10**7)
    if market == CN:
        return f"{('134', '157', '183', '185')[n % 4]}{x % 10**8:08d}"
    return f"9{1 + x // 10**7}{x % 10**7:07d}"


def tw_landline(n: int) -> tuple[str, str]:
    """(area code digits, local number) of a Taipei, Taichung or Kaohsiung landline."""
    area, first, digits = [("2", "2", 7), ("2", "8", 7), ("4", "2", 7), ("7", "3", 6)][n % 4]
    return area, f"{first}{(n * 7919 + 4321) % 10**digits:0{digits}d}"


def tw_mobile_as_typed(digits: str, style: int) -> str:
    """One of the ways people type a Taiwanese mobile; every one normalises to +886 and `digits`."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [
        f"0{a}-{b}-{c}",
        f"0{digits}",
        f"+886 {a} {b} {c}",
        f"+886-{a}-{b}-{c}",
        f"0{a} {b} {c}",
        f"886{digits}",
    ][style % 6]


def cn_mobile_as_typed(digits: str, style: int) -> str:
    """A mainland mobile as typed in a Taiwanese CRM. Always with the country code: typed bare,
    some (130…, 150…) read as North American numbers, since +1 is tried before the CN fallback."""
    a, b, c = digits[:3], digits[3:7], digits[7:]
    return [f"+86 {a} {b} {c}", f"+86-{a}-{b}-{c}", f"+86{digits}", f"86{digits}", f"+86 {digits}"][style % 5]


def tw_landline_as_typed(area: str, local: str, extension: str = "") -> str:
    text = f"(0{area}){local[:-4]}-{local[-4:]}"
    return f"{text}#{extension}" if extension else text


def timeline_entry(rng: random.Random, locale: str) -> tuple[str, str, str, str | None, dict]:
    """(kind, channel, summary, who, data) of one plausible touch of a customer from `locale`."""
    kind, channel, template, _weight, who = pick(rng, _TIMELINE[locale])
    data = {}
    values = {}
    if "{product}" in template:
        values["product"] = rng.choice(PRODUCTS[CN if locale == CN else TW])
    if "{order}" in template:
        values["order"] = f"{'CN' if locale == CN else 'TW'}{rng.randrange(10**7, 10**8)}"
    if "{qty}" in template:
        values["qty"] = rng.choice((1, 1, 1, 2, 2, 3, 5))
    if "{amount}" in template:
        amount = rng.randrange(3, 300) * 100 - 20
        values["amount"] = f"{amount:,}"
        data = {"amount": amount, "currency": "TWD"}
    if "{amount_cny}" in template:
        amount = rng.randrange(5, 400) * 10 - 1
        values["amount_cny"] = f"{amount:,}"
        data = {"amount": amount, "currency": "CNY"}
    if "{big_amount}" in template:
        values["big_amount"] = f"{rng.randrange(20, 900) * 1000:,}"
    if "{big_amount_cny}" in template:
        values["big_amount_cny"] = f"{rng.randrange(5, 200) * 1000:,}"
    if "{ticket}" in template:
        values["ticket"] = rng.randrange(1000, 99999)
    if "{tracking}" in template:
        values["tracking"] = rng.randrange(10**11, 10**12)
    if "{quote}" in template:
        values["quote"] = f"{rng.randrange(1, 9999):04d}"
    summary = template.format(**values) if values else template
    return kind, channel, summary, who, data


def business_time(rng: random.Random, day: dt.datetime) -> dt.datetime:
    """A moment between 09:00 and 21:00 Taipei time on `day` (an aware datetime), in UTC."""
    start = day.replace(hour=1, minute=0, second=0, microsecond=0)  # 09:00 in Taipei (UTC+8)
    return start + dt.timedelta(seconds=rng.randrange(12 * 3600))
