"""Fifth fresh part of the mapping-evaluation corpus: nine exports (two or three per pack), written by the
session `mapping-eval` on 2026-12-08 (session 9) BEFORE the stage matcher was changed in that session and
without reading the stage matcher or its word lists (stage_words.yaml, stage_verbs.py); the truth was decided
from the packs' stage names, triggers and meaning. It is dense in stage labels of the kinds that still failed
elsewhere, in new wordings: DMS/CRM trigger names with a time offset (…后3日回访, …后24小时, T+1), abbreviations
(RO, PDI, EMI, BOPIS), English paraphrases by verb and object (Drove a demo car, Exchanged contracts), Chinese
verb–object labels whose verb names no stage (换刹车片, 接新车回家), and labels no stage fits (truth null).
Kept for measuring: scored before and after the session's change, its misses not studied. Read by
../make_corpus.py (``fresh5``)."""

from make_corpus import ALCHEMER_META, QUALTRICS_META, QUALTRICS_TAIL, WJX_META, C, Export

R10 = "int:1-10"
R5 = "int:1-5"
EN_SAT = "words:en_sat5"

EXPORTS = [
    # =============================================================================================== auto
    Export(
        "f5_auto_dms_trigger", "auto", "csv-gbk",
        "a brand's DMS-triggered call-back export (GBK CSV): the trigger names carry the event and a time offset",
        ("dms-crm", "no-response-id", "customer-number-only", "start-end-timestamps", "attribute-paraphrase",
         "stage-synonyms", "stage-abbrev", "stage-suffix", "stage-unknown", "pii", "org-unit-names"),
        (
            C("客户编码", "customer_id", "id:KH{r}"),
            C("客户姓名", "name", "name"),
            C("联系电话", "phone", "phone:masked"),
            C("经销商名称", "dealer", "choice:广州骏达|佛山宏图|东莞华冠"),
            C("触发规则", "stage", "stage"),
            C("业务发生日期", None, "before"),
            C("回访完成时间", "date", "end"),
            C("推荐度(0-10)", "nps", "nps"),
            C("整体满意度(1-5)", "csat", R5),
            C("服务顾问沟通", "service_advisor", R10),
            C("维修质量", "repair_quality", R10),
            C("交车讲解", "delivery_explain", R10),
            C("客户意见", "comment", "text"),
        ),
        {"展厅到店登记后回访": "showroom", "试驾结束当日短信": "test_drive", "金融放款后回访": "quote_finance",
         "订单签署后48小时": "contract", "新车交车后3日回访": "delivery", "PDI检查完成回访": "delivery",
         "首保完成次日回访": "first_service", "RO结算后24小时回访": "maintenance", "召回完工回访": "maintenance",
         "二手车评估后回访": "loyalty", "流失客户唤回": "loyalty", "续保提醒后回访": None, "道路救援结束回访": None},
        scales={"nps": (0, 10), "csat": (1, 5)}, rows=26,
    ),
    Export(
        "f5_auto_medallia_en", "auto", "csv",
        "Medallia-style English export of an importer's programme: the visit type as a short English phrase or "
        "the customer's paraphrase",
        ("platform-intl", "english", "question-style", "scale-hint", "attribute-paraphrase", "stage-english",
         "stage-abbrev", "stage-unknown", "pii"),
        (
            C("Survey ID", "response_id", "id:SV{r}{i:03d}"),
            C("Response Date", "date", "end:%Y-%m-%d %H:%M"),
            C("Retailer", "dealer", "choice:Harbour Motors|Lakeside Cars|Summit Auto"),
            C("Visit Type", "stage", "stage"),
            C("Likelihood to recommend the retailer (0-10)", "nps", "nps"),
            C("Overall satisfaction (1-5)", "csat", EN_SAT),
            C("Explanation of the work done", "service_advisor", R10),
            C("Was the car fixed right the first time?", "fixed_first_time", R10),
            C("Comments", "comment", "text:en"),
            C("Customer Email", None, "email"),
        ),
        {"Came by to see the new SUV": "showroom", "Drove a demo car": "test_drive",
         "Talked to someone about a loan for my car": "quote_finance", "Placed an order and paid a deposit":
         "contract", "Took delivery of my vehicle": "delivery", "New vehicle pick-up": "delivery",
         "1st service": "first_service", "Brake repair": "maintenance", "Tyre replacement": "maintenance",
         "Swapped my old car for a new one": "loyalty", "Car wash only": None, "Bought accessories online": None},
        scales={"nps": (0, 10), "csat": (1, 5)}, rows=24,
    ),
    Export(
        "f5_auto_wjx_owner", "auto", "csv",
        "问卷星 按选项文本 CSV of a dealer group's owner survey; what the owner came for, in everyday verb–object words",
        ("platform-zh", "question-style", "scale-hint", "effort-everyday", "platform-metadata", "stage-synonyms",
         "stage-unknown", "pii"),
        (
            *WJX_META,
            C("1、会员号", "customer_id", "id:M{r}"),
            C("2、您这次来店是为了", "stage", "stage"),
            C("3、您会推荐朋友来我们店吗(0~10分)", "nps", "nps"),
            C("4、这次来店您满意吗", "csat", "words:likert5"),
            C("5、办事顺不顺利（1=很不顺利，5=很顺利）", "ces", R5),
            C("6、还有什么想说的", "comment", "text"),
        ),
        {"来店看看新款": "showroom", "约了试驾": "test_drive", "问问贷款方案": "quote_finance", "交了定金": "contract",
         "接新车回家": "delivery", "第一次回店保养": "first_service", "换刹车片": "maintenance", "补胎": "maintenance",
         "做四轮定位": "maintenance", "以旧换新": "loyalty", "办理年检": None},
        scales={"nps": (0, 10), "ces": (1, 5)}, rows=22,
    ),
    # ============================================================================================ finance
    Export(
        "f5_fn_crm_triggers", "finance", "csv",
        "a bank's CRM export of event-triggered SMS surveys: trigger names with time offsets (T+1, 7日)",
        ("dms-crm", "scale-hint", "stage-synonyms", "stage-suffix", "stage-unknown", "platform-metadata",
         "start-end-timestamps"),
        (
            C("调研流水号", "response_id", "id:DY{r}{i:03d}"),
            C("客户号", "customer_id", "id:C{r}"),
            C("触发场景", "stage", "stage"),
            C("短信发送时间", None, "before"),
            C("问卷提交时间", "date", "end"),
            C("推荐意愿(0-10)", "nps", "nps"),
            C("满意度(1-5)", "csat", R5),
            C("办理效率", "branch_efficiency", R10),
            C("费用说得清楚吗", "fee_transparency", R10),
            C("意见建议", "comment", "text"),
            C("发送渠道", None, "choice:短信|微信|APP推送"),
        ),
        {"信用卡核卡后T+1": "card_application", "新户开卡成功推送": "card_activation", "调额成功后3日": "credit_limit",
         "还款日后短信调研": "billing_repayment", "账单分期办理后": "installment", "里程兑换完成": "rewards",
         "房贷放款后7日回访": "loan", "柜面业务办结后": "branch", "跨行汇款办理后": "branch",
         "IVR转人工结束后": "hotline", "车险结案后回访": "claims", "理财产品到期提醒后": None, "保单续期提醒后": None,
         "密码重置": None},
        scales={"nps": (0, 10), "csat": (1, 5)}, rows=26,
    ),
    Export(
        "f5_fn_qualtrics_en", "finance", "qualtrics",
        "Qualtrics CSV of an international bank's relationship survey; the last interaction as embedded data in "
        "the customer's words",
        ("platform-intl", "english", "question-style", "scale-hint", "stage-english", "stage-abbrev",
         "stage-unknown", "platform-metadata", "start-end-timestamps"),
        (
            *QUALTRICS_META,
            C("LastInteraction", "stage", "stage", label="LastInteraction"),
            C("Q1", "nps", "nps", label="How likely are you to recommend us to a friend or colleague? (0-10)"),
            C("Q2", "csat", R5, label="How satisfied are you with this interaction? (1-5)"),
            C("Q3", "ces", R5, label="How easy was it to get what you needed? (1 = very difficult, 5 = very easy)"),
            C("Q4", "comment", "text:en", label="What is the main reason for your score?"),
            *QUALTRICS_TAIL,
        ),
        {"New credit card approved": "card_application", "Card activated via app": "card_activation",
         "Requested a credit line increase": "credit_limit", "Set up autopay": "billing_repayment",
         "Converted a purchase to EMI": "installment", "Redeemed air miles": "rewards",
         "Mortgage drawdown": "loan", "Visited a branch to deposit cash": "branch",
         "Spoke with a phone banker": "hotline", "Filed a travel insurance claim": "claims",
         "Disputed a transaction": None, "Changed my PIN": None},
        scales={"nps": (0, 10), "csat": (1, 5), "ces": (1, 5)}, rows=24,
    ),
    # ======================================================================================== real_estate
    Export(
        "f5_re_crm_nodes", "real_estate", "xlsx",
        "a developer's CRM Excel export (title row) of node-triggered surveys: node names with time offsets",
        ("dms-crm", "no-response-id", "customer-number-only", "org-unit-names", "stage-synonyms", "stage-suffix",
         "stage-unknown", "pii", "start-end-timestamps"),
        (
            C("客户编号", "customer_id", "id:YZ{r}"),
            C("项目名称", "dealer", "choice:滨江壹号|云栖里|锦绣华庭"),
            C("触发节点", "stage", "stage"),
            C("节点时间", None, "before"),
            C("调研完成时间", "date", "end"),
            C("业主手机", "phone", "phone:masked"),
            C("推荐值(0-10)", "nps", "nps"),
            C("满意度(1-5)", "csat", R5),
            C("管家服务", "steward_service", R10),
            C("报修响应", "repair_response", R10),
            C("业主意见", "comment", "text"),
        ),
        {"案场首访后24小时": "sales", "认购后回访": "sales", "网签完成后7天": "contract_wait",
         "按揭放款后": "contract_wait", "交付前30天工程开放日": "contract_wait", "集中交付当天": "handover",
         "交付后3个月": "run_in", "入住满6个月": "run_in", "报修工单关闭后": "run_in", "入住18个月": "stable",
         "入住满3年": "mature", "车位销售": None, "物业费催缴后": None},
        scales={"nps": (0, 10), "csat": (1, 5)}, rows=26, title="客户旅程节点调研明细",
    ),
    Export(
        "f5_re_alchemer_en", "real_estate", "csv",
        "Alchemer CSV of an English-language developer's owner survey; where the owner is, in short phrases "
        "(UK and HK usage)",
        ("platform-intl", "english", "question-style", "scale-hint", "stage-english", "stage-unknown",
         "platform-metadata", "start-end-timestamps"),
        (
            *ALCHEMER_META,
            C("Development", "dealer", "choice:Riverside Quay|Oakwood Park|Victoria Heights"),
            C("Which best describes you?", "stage", "stage"),
            C("How likely are you to recommend us to a friend? (0-10)", "nps", "nps"),
            C("Overall satisfaction (1-5)", "csat", R5),
            C("Anything else you'd like to tell us?", "comment", "text:en"),
        ),
        {"Attended a show flat viewing": "sales", "Exchanged contracts": "contract_wait",
         "Waiting for completion": "contract_wait", "Key collection day": "handover",
         "Snagging inspection": "handover", "Moved in 4 months ago": "run_in", "Resident for 15 months": "stable",
         "Long-standing resident (5 yrs)": "mature", "Subletting my flat": None, "Clubhouse booking": None},
        scales={"nps": (0, 10), "csat": (1, 5)}, rows=22,
    ),
    # ============================================================================================= retail
    Export(
        "f5_rt_oms_events", "retail", "csv-bom",
        "an omnichannel retailer's OMS/CRM export of event-triggered surveys (UTF-8 BOM): event names with offsets",
        ("dms-crm", "scale-hint", "effort-everyday", "stage-synonyms", "stage-suffix", "stage-unknown",
         "platform-metadata"),
        (
            C("问卷ID", "response_id", "id:Q{r}{i:03d}"),
            C("会员卡号", "customer_id", "id:VIP{r}"),
            C("订单号", "order_id", "id:SO{r}{i:04d}"),
            C("推送事件", "stage", "stage"),
            C("填写时间", "date", "end"),
            C("推荐可能性（0-10分）", "nps", "nps"),
            C("满意度（1-5分）", "csat", R5),
            C("省不省事（1-5分）", "ces", R5),
            C("其他建议", "comment", "text"),
        ),
        {"商品详情页停留后": "browse", "收藏商品后推送": "browse", "订单支付成功": "purchase",
         "门店POS结账后": "purchase", "订单提交成功": "purchase", "快递签收后48小时": "delivery",
         "骑手送达后": "delivery", "门店自提完成": "delivery", "退款到账后": "after_sales", "换货完成": "after_sales",
         "客服工单关闭后": "after_sales", "会员日活动后": "membership", "储值卡充值": "membership",
         "发票申请": None, "直播间抽奖": None},
        scales={"nps": (0, 10), "csat": (1, 5), "ces": (1, 5)}, rows=26,
    ),
    Export(
        "f5_rt_alchemer_en", "retail", "csv",
        "Alchemer CSV of a fashion retailer's English survey; what the shopper did, in short phrases and "
        "abbreviations",
        ("platform-intl", "english", "question-style", "scale-hint", "stage-english", "stage-abbrev",
         "stage-unknown", "platform-metadata", "start-end-timestamps"),
        (
            *ALCHEMER_META,
            C("Store", "dealer", "choice:Oxford Street|Canary Wharf|King's Road"),
            C("What did you do today?", "stage", "stage"),
            C("How likely are you to recommend us? (0-10)", "nps", "nps"),
            C("How satisfied were you? (1-5)", "csat", EN_SAT),
            C("Tell us more", "comment", "text:en"),
        ),
        {"Browsed the website": "browse", "Added items to my wishlist": "browse", "Bought something in store":
         "purchase", "Checked out online": "purchase", "Received my parcel": "delivery",
         "Same-day delivery": "delivery", "BOPIS pickup": "delivery", "Returned an item for a refund": "after_sales",
         "Chatted with support": "after_sales", "Signed up for the rewards club": "membership",
         "Gift card balance inquiry": None, "Left a product review": None},
        scales={"nps": (0, 10), "csat": (1, 5)}, rows=24,
    ),
]
