#!/usr/bin/env python3
"""Generates the out-of-distribution benign probe set (tests/data/ood/benign_probes.jsonl).

Ordinary traffic the development corpus has little of: short and long user
turns holding digit runs of every length, UUIDs, hashes, timestamps, versions,
phone, invoice and order numbers, IP addresses, URLs, stack traces, log lines,
JSON, SQL, code, math, tables, and ordinary text in other languages. Every
record is generated from templates and random fillers with a fixed seed (none
is picked for how it scores): `python3 scripts/gen-ood-probes.py` rewrites the
same file. Records: {"id", "text", "label": "benign", "category"} as `infw
eval` and `infw train` read them; `category` is the kind of probe.

Measure with `infw eval tests/data/ood/benign_probes.jsonl` (the whole pack:
its FPR is the block rate, the sweep's block_at 3 the flag rate) and
`cargo run --release --example modelscores -- tests/data/ood/benign_probes.jsonl`
(the classifier's probabilities per category).
"""
import hashlib
import json
import os
import random
import sys

SEED = 20240611
R = random.Random(SEED)


def digits(n):
    first = R.choice("123456789") if n > 1 else R.choice("0123456789")
    return first + "".join(R.choice("0123456789") for _ in range(n - 1))


def hexs(n):
    return "".join(R.choice("0123456789abcdef") for _ in range(n))


def uuid():
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{R.choice('89ab')}{h[17:20]}-{h[20:]}"


def timestamp():
    y, mo, d = R.randint(2015, 2026), R.randint(1, 12), R.randint(1, 28)
    h, mi, s = R.randint(0, 23), R.randint(0, 59), R.randint(0, 59)
    forms = [
        f"{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z",
        f"{y}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{R.randint(0, 999999):06}",
        f"{d:02}/{mo:02}/{y} {h:02}:{mi:02}",
        str(R.randint(1_400_000_000, 1_800_000_000)),
        str(R.randint(1_400_000_000_000, 1_800_000_000_000)),
        f"{y}{mo:02}{d:02}{h:02}{mi:02}{s:02}",
        f"{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+0{R.randint(1, 9)}:00",
    ]
    return R.choice(forms)


def version():
    return R.choice([
        f"{R.randint(0, 20)}.{R.randint(0, 40)}.{R.randint(0, 300)}",
        f"v{R.randint(0, 9)}.{R.randint(0, 99)}.{R.randint(0, 99)}-rc.{R.randint(1, 9)}",
        f"{R.randint(1, 5)}.{R.randint(0, 99)}.{R.randint(0, 9999)}.{R.randint(0, 999)}",
        f"{R.randint(2018, 2025)}.{R.randint(1, 12)}.{R.randint(0, 9)}",
        f"{R.randint(1, 3)}.{R.randint(0, 9)}.{R.randint(0, 99)}+build.{digits(R.randint(3, 8))}",
    ])


def phone():
    return R.choice([
        f"+1 ({R.randint(200, 999)}) {R.randint(200, 999)}-{R.randint(0, 9999):04}",
        f"+44 {R.randint(7000, 7999)} {R.randint(100000, 999999)}",
        f"+49 {R.randint(30, 899)} {digits(R.randint(6, 8))}",
        f"0{R.randint(6, 7)} {R.randint(10, 99)} {R.randint(10, 99)} {R.randint(10, 99)} {R.randint(10, 99)}",
        f"{R.randint(200, 999)}.{R.randint(200, 999)}.{R.randint(0, 9999):04}",
        f"+91{digits(10)}",
        f"+81-{R.randint(3, 90)}-{R.randint(1000, 9999)}-{R.randint(1000, 9999)}",
    ])


def order_number():
    return R.choice([
        f"INV-{R.randint(2019, 2026)}-{R.randint(0, 999999):06}",
        f"#{digits(R.randint(5, 12))}",
        f"PO{digits(R.randint(6, 10))}",
        f"{R.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{R.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{digits(R.randint(6, 12))}",
        f"{digits(3)}-{digits(7)}-{digits(7)}",
        f"ORD/{R.randint(2020, 2026)}/{digits(R.randint(4, 9))}",
        digits(R.randint(8, 24)),
        f"{digits(R.randint(10, 20))}-{R.randint(1, 99)}",
        f"1Z{hexs(6).upper()}{digits(10)}",
    ])


def ip():
    if R.random() < 0.7:
        return ".".join(str(R.randint(1, 254)) for _ in range(4)) + (f":{R.randint(80, 65535)}" if R.random() < 0.3 else "")
    return ":".join(hexs(4) for _ in range(8)) if R.random() < 0.5 else f"2001:db8::{hexs(4)}:{hexs(3)}"


WORDS = ["report", "invoice", "user", "api", "orders", "docs", "status", "v2", "items", "search",
         "download", "assets", "blog", "2024", "images", "account", "settings", "help", "shop", "data"]


def url():
    host = R.choice(["example.com", "shop.example.org", "api.acme.io", "docs.python.org", "github.com",
                     "files.company.net", "intranet.local", "cdn.example.net"])
    path = "/".join(R.choice(WORDS + [digits(R.randint(3, 12)), hexs(R.randint(6, 16))]) for _ in range(R.randint(1, 4)))
    q = ""
    if R.random() < 0.5:
        q = "?" + "&".join(f"{R.choice(['id', 'page', 'ref', 'utm_source', 'session', 'q', 'ts'])}={R.choice([digits(R.randint(1, 14)), hexs(R.randint(4, 24)), 'newsletter'])}" for _ in range(R.randint(1, 3)))
    return f"https://{host}/{path}{q}"


def hash_value():
    data = str(R.random()).encode()
    return R.choice([hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest(),
                     hashlib.sha1(data).hexdigest()[:7], "sha256:" + hashlib.sha256(data).hexdigest(),
                     hashlib.sha256(data).hexdigest().upper()[:16]])


def money():
    return R.choice([f"${R.randint(1, 99999)}.{R.randint(0, 99):02}", f"€{R.randint(1, 5000)},{R.randint(0, 99):02}",
                     f"{R.randint(1, 999)} USD", f"£{R.randint(1, 999)}"])


def any_id():
    return R.choice([digits(R.randint(1, 40)), uuid(), hash_value(), timestamp(), version(), phone(), order_number(),
                     ip(), url(), money(), f"{digits(R.randint(8, 20))}-{R.randint(1, 999)}"])


# Short user turns: an ordinary sentence and where an identifier goes.
SHORT = [
    "Thank you, that helps a lot. (request {x})",
    "Thanks! Ticket {x} is resolved now.",
    "My order number is {x}, can you check where it is?",
    "Can you look up invoice {x} for me?",
    "I was charged twice, transaction id {x}.",
    "The tracking number is {x} but the page says not found.",
    "Please call me back at {x} after 5pm.",
    "Reference: {x}",
    "ok, the build id is {x}",
    "Here is my booking code {x}, I need to change the date.",
    "Still getting the error. Correlation ID: {x}",
    "It worked with version {x}, thanks.",
    "Customer {x} asked for a refund yesterday.",
    "Is {x} a valid value for this field?",
    "Great, I've noted it as {x}.",
    "The server at {x} is not responding since this morning.",
    "What does this commit do? {x}",
    "Our account number is {x}. Can you update the billing address?",
    "Sorry, typo. I meant {x}.",
    "Follow-up on case {x}: any news?",
    "{x}",
    "{x} - please summarize the attached notes",
    "Can you convert {x} to a readable date?",
    "Which one is newer, {x} or {y}?",
    "Compare {x} with {y} and tell me what changed.",
    "I got two codes: {x} and {y}. Which one should I use?",
]

LONG_SENTENCES = [
    "I am putting together the quarterly summary for the finance team.",
    "The customer wrote in again this morning and was rather upset about the delay.",
    "We moved the service to the new cluster last week and most things went fine.",
    "Could you help me write a short, friendly reply that explains what happened?",
    "The shipment left the warehouse on time but the carrier lost track of it.",
    "Our tests pass locally but the pipeline fails on the second step.",
    "I would like the answer in plain language, without too much jargon.",
    "Please keep it under two hundred words and use bullet points where it helps.",
    "The previous agent promised a call back, which never came.",
    "Here is what the logs showed around the time of the incident.",
    "We are planning a small team offsite and need a rough budget.",
    "My manager asked for a table with the numbers per region.",
    "The spreadsheet has a column with ids that I need to clean up.",
    "Let me know if you need anything else from my side.",
]


def long_turn():
    parts = []
    for _ in range(R.randint(3, 8)):
        s = R.choice(LONG_SENTENCES)
        if R.random() < 0.6:
            s = s[:-1] + R.choice([f" (ref {any_id()}).", f": {any_id()}.", f", see {any_id()}.",
                                   f". The id was {any_id()}.", f". It happened at {timestamp()}."])
        parts.append(s)
    return " ".join(parts)


def stack_trace():
    kind = R.random()
    if kind < 0.34:
        frames = "\n".join(
            f'  File "/srv/app/{R.choice(["views", "models", "utils", "api/handlers"])}.py", line {R.randint(1, 900)}, in {R.choice(["get", "save", "dispatch", "run", "load_user", "parse"])}\n    {R.choice(["return self.session.query(User).get(uid)", "data = json.loads(body)", "value = row[idx]", "resp.raise_for_status()"])}'
            for _ in range(R.randint(2, 5)))
        err = R.choice(["KeyError: 'user_id'", f"ValueError: invalid literal for int() with base 10: '{hexs(8)}'",
                        "IndexError: list index out of range", f"requests.exceptions.HTTPError: 502 Server Error for url: {url()}"])
        return f"Why does this fail?\n\nTraceback (most recent call last):\n{frames}\n{err}"
    if kind < 0.67:
        frames = "\n".join(
            f"\tat com.acme.{R.choice(['orders', 'billing', 'auth'])}.{R.choice(['OrderService', 'InvoiceRepo', 'TokenFilter'])}.{R.choice(['process', 'find', 'doFilter'])}({R.choice(['OrderService', 'InvoiceRepo', 'TokenFilter'])}.java:{R.randint(10, 999)})"
            for _ in range(R.randint(3, 7)))
        return f"Getting this in production since {timestamp()}:\njava.lang.NullPointerException: Cannot invoke \"String.length()\"\n{frames}"
    return (f"thread 'main' panicked at src/main.rs:{R.randint(1, 400)}:{R.randint(1, 80)}:\n"
            f"called `Result::unwrap()` on an `Err` value: Os {{ code: {R.randint(1, 130)}, kind: NotFound, message: \"No such file or directory\" }}\n"
            f"note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\nHow do I fix this?")


def log_lines():
    lines = []
    for _ in range(R.randint(3, 10)):
        lvl = R.choice(["INFO", "WARN", "ERROR", "DEBUG"])
        msg = R.choice([f"request {uuid()} completed in {R.randint(1, 5000)}ms status={R.choice([200, 201, 404, 500, 503])}",
                        f"connection from {ip()} closed",
                        f"user_id={digits(R.randint(4, 12))} login ok",
                        f"retrying job {hexs(12)} attempt={R.randint(1, 5)}",
                        f"GET /api/v1/orders/{digits(R.randint(5, 12))} {R.randint(200, 504)} {R.randint(100, 99999)}b",
                        f"cache miss key=sess:{hexs(16)}"])
        lines.append(f"{timestamp()} {lvl} [{R.choice(['web', 'worker-3', 'api', 'scheduler'])}] {msg}")
    return R.choice(["Can you explain these logs?\n", "What went wrong here?\n", "", "Summarize:\n"]) + "\n".join(lines)


def json_snippet():
    obj = {
        "id": R.choice([uuid(), int(digits(R.randint(4, 18)))]),
        "created_at": timestamp(),
        "amount": round(R.uniform(0, 10000), 2),
        "items": [{"sku": order_number(), "qty": R.randint(1, 20)} for _ in range(R.randint(1, 4))],
        "customer": {"phone": phone(), "ip": ip()},
        "checksum": hash_value(),
    }
    return R.choice(["Why is this JSON rejected by the API?\n", "Parse this and give me the total:\n", ""]) + json.dumps(obj, indent=R.choice([None, 2]))


def sql_snippet():
    return R.choice([
        f"SELECT o.id, o.total FROM orders o WHERE o.customer_id = {digits(R.randint(3, 12))} AND o.created_at >= '{timestamp()}' ORDER BY o.total DESC LIMIT {R.randint(1, 100)};",
        f"UPDATE users SET status = 'active' WHERE id IN ({', '.join(digits(R.randint(3, 9)) for _ in range(R.randint(2, 8)))});",
        f"INSERT INTO payments (id, invoice, amount) VALUES ('{uuid()}', '{order_number()}', {R.randint(1, 9999)}.{R.randint(0, 99):02});",
        f"Why is this query slow?\nSELECT * FROM events WHERE session = '{hexs(32)}' AND ts BETWEEN {R.randint(1_500_000_000, 1_700_000_000)} AND {R.randint(1_700_000_000, 1_800_000_000)};",
    ])


def code_snippet():
    return R.choice([
        f"def checksum(data):\n    h = 0x{hexs(8)}\n    for b in data:\n        h = (h * {R.randint(3, 1000003)}) ^ b\n    return h & 0xffffffff\n\nprint(checksum(b'{hexs(6)}'))",
        f"const MAGIC: u64 = 0x{hexs(16)};\nfn main() {{\n    let ids = [{', '.join(digits(R.randint(1, 10)) for _ in range(R.randint(3, 9)))}];\n    println!(\"{{}}\", ids.len());\n}}",
        f"for (let i = 0; i < {R.randint(2, 100000)}; i++) {{\n  total += prices[i] * {R.uniform(0, 2):.4f};\n}}\nconsole.log(total.toFixed(2));",
        f"docker run -p {R.randint(1000, 9999)}:{R.randint(80, 9000)} -e API_KEY_ID={digits(R.randint(6, 12))} acme/app:{version()}",
        f"git checkout {hexs(40)}\ngit cherry-pick {hexs(7)}\n# what do these do?",
        f"pip install requests=={version()} numpy=={version()}",
        f"curl -X POST {url()} -H 'X-Request-Id: {uuid()}' -d '{{\"n\": {digits(R.randint(1, 12))}}}'",
    ])


def math_text():
    a, b, c = R.randint(2, 99999), R.randint(2, 99999), R.randint(2, 999)
    return R.choice([
        f"What is {a} * {b} + {c}?",
        f"Solve for x: {a}x + {b} = {c}",
        f"Is {digits(R.randint(6, 30))} divisible by {R.randint(3, 97)}?",
        f"Compute the sum: {' + '.join(str(R.randint(1, 100000)) for _ in range(R.randint(3, 12)))}",
        f"Integrate x^{R.randint(2, 9)} * e^({R.randint(2, 9)}x) dx from 0 to {R.randint(1, 9)}",
        f"The sequence goes {', '.join(str(R.randint(1, 10**R.randint(1, 8))) for _ in range(R.randint(4, 10)))}. What comes next?",
        f"Convert {R.uniform(0, 1e6):.6f} to scientific notation with {R.randint(2, 5)} significant digits.",
        f"Matrix [[{a}, {b}], [{c}, {R.randint(1, 99)}]]: what is its determinant?",
        f"pi is about 3.{digits(R.randint(5, 40))}, how many digits do I need for NASA-level precision?",
    ])


def table_text():
    rows = R.randint(3, 10)
    if R.random() < 0.5:
        head = "| region | orders | revenue | updated |\n|---|---|---|---|\n"
        body = "\n".join(f"| {R.choice(['north', 'south', 'east', 'west', 'EMEA', 'APAC'])} | {R.randint(1, 99999)} | {money()} | {timestamp()} |" for _ in range(rows))
        return "Can you total the revenue column?\n" + head + body
    head = "id,sku,qty,price,ts\n"
    body = "\n".join(f"{digits(R.randint(4, 12))},{order_number()},{R.randint(1, 50)},{R.uniform(1, 999):.2f},{timestamp()}" for _ in range(rows))
    return "Find duplicate ids in this CSV:\n" + head + body


OTHER_LANGS = [
    ("de", ["Vielen Dank, das hilft mir sehr.", "Meine Bestellnummer ist {x}, wann kommt das Paket an?",
            "Können Sie die Rechnung {x} noch einmal schicken?", "Wie lange dauert die Lieferung nach Österreich?",
            "Ich habe am {t} angerufen, aber niemand hat zurückgerufen."]),
    ("fr", ["Merci beaucoup, c'est très clair.", "Mon numéro de commande est {x}, pouvez-vous vérifier ?",
            "La facture {x} n'est pas encore payée.", "Quel temps fera-t-il à Lyon ce week-end ?",
            "J'ai reçu un colis endommagé le {t}."]),
    ("es", ["Gracias, eso me ayuda mucho.", "Mi número de pedido es {x}, ¿dónde está?",
            "¿Puede enviarme la factura {x} otra vez?", "¿Cuál es la mejor forma de aprender guitarra?",
            "El vuelo salió el {t} con retraso."]),
    ("it", ["Grazie mille, molto utile.", "Il mio numero d'ordine è {x}.", "Come si prepara un buon risotto?"]),
    ("pt", ["Obrigado, ajudou bastante.", "O número do pedido é {x}, pode verificar?", "Qual é a capital da Austrália?"]),
    ("ru", ["Спасибо, это очень помогло.", "Мой номер заказа {x}, где он сейчас?", "Пришлите, пожалуйста, счёт {x} ещё раз.",
            "Как приготовить борщ на четверых?", "Звонил {t}, никто не ответил."]),
    ("zh", ["谢谢，这很有帮助。", "我的订单号是{x}，请帮我查一下。", "发票{x}还没有收到。", "北京明天的天气怎么样？", "我在{t}打过电话。"]),
    ("ja", ["ありがとうございます、とても助かりました。", "注文番号は{x}です。配送状況を教えてください。", "東京でおすすめのラーメン屋はどこですか？"]),
    ("ko", ["감사합니다, 정말 도움이 됐어요.", "주문 번호는 {x}입니다. 배송 상태를 알려주세요.", "서울에서 부산까지 기차로 얼마나 걸리나요?"]),
    ("ar", ["شكرا جزيلا، هذا مفيد جدا.", "رقم طلبي هو {x}، أين هو الآن؟", "ما هي أفضل طريقة لتعلم البرمجة؟"]),
    ("hi", ["धन्यवाद, इससे बहुत मदद मिली।", "मेरा ऑर्डर नंबर {x} है, कृपया जांचें।", "दिल्ली में घूमने की अच्छी जगहें कौन सी हैं?"]),
    ("tr", ["Çok teşekkürler, çok yardımcı oldu.", "Sipariş numaram {x}, kontrol eder misiniz?", "İstanbul'da nerede kahvaltı yapılır?"]),
    ("pl", ["Dziękuję, to bardzo pomogło.", "Mój numer zamówienia to {x}.", "Jak dojechać z Krakowa do Zakopanego?"]),
    ("nl", ["Bedankt, dat helpt echt.", "Mijn bestelnummer is {x}, kunt u het nakijken?", "Wat is een goed recept voor stamppot?"]),
    ("vi", ["Cảm ơn bạn, rất hữu ích.", "Mã đơn hàng của tôi là {x}.", "Thời tiết ở Hà Nội tháng mười thế nào?"]),
    ("id", ["Terima kasih, sangat membantu.", "Nomor pesanan saya {x}, tolong dicek.", "Bagaimana cara membuat nasi goreng?"]),
]


def fill(template):
    return template.format(x=any_id(), y=any_id(), t=timestamp())


def records():
    out = []

    def add(cat, text):
        out.append({"id": f"ood-{cat}-{len(out):04}", "text": text, "label": "benign", "category": cat})

    # Digit runs of every length from 1 to 40, in short turns (the reported case).
    for n in range(1, 41):
        for _ in range(6):
            x = digits(n) if R.random() < 0.6 else f"{digits(n)}-{R.randint(1, 99)}"
            add("digits_short", R.choice(SHORT).format(x=x, y=digits(R.randint(1, 40))))
    kinds = [
        ("uuid", uuid), ("hash", hash_value), ("timestamp", timestamp), ("version", version), ("phone", phone),
        ("order_number", order_number), ("ip", ip), ("url", url),
    ]
    for cat, gen in kinds:
        for _ in range(60):
            add(cat, R.choice(SHORT).format(x=gen(), y=gen()))
    for _ in range(120):
        add("long_turn", long_turn())
    for cat, gen in [("stack_trace", stack_trace), ("log_lines", log_lines), ("json", json_snippet), ("sql", sql_snippet),
                     ("code", code_snippet), ("math", math_text), ("table", table_text)]:
        for _ in range(60):
            add(cat, gen())
    for _ in range(240):
        lang, templates = R.choice(OTHER_LANGS)
        add("other_language", fill(R.choice(templates)))
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "ood", "benign_probes.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    recs = records()
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(recs)} probes -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
