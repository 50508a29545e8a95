"""The Chinese names of the codes events carry (channels, endorsement levels, unit and item kinds,
deduction kinds), as a district office writes them. Reporting prints them; the OpenAPI documents
them; `kaohe import` reads them back from an office's registers."""

CHANNEL_NAMES = {
    "district_zhengwu": "区《政务》",
    "district_daily": "每日要情",
    "district_bulletin": "《政办通报》",
    "city": "市级刊物",
    "province": "省级刊物",
    "website_today": "网站“今日”",
}
LEVEL_NAMES = {"district": "区领导", "city": "市领导", "province": "省领导"}
UNIT_KIND_NAMES = {"department": "部门", "township": "镇街", "other": "其他"}
ITEM_KIND_NAMES = {"single": "单条信息", "brief": "简讯", "research": "综合调研信息"}
LATE_KIND_NAMES = {"late": "迟报", "missed": "漏报", "concealed": "瞒报"}
ASSESSMENT_NAMES = {"adequate": "称职", "inadequate": "不称职"}
DISPUTE_OUTCOME_NAMES = {"upheld": "维持扣分", "revoked": "撤销扣分"}
