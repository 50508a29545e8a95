"""The Chinese names of the codes api.md fixes (item kinds, deduction kinds, outcomes), as a district
office writes them. Channels, levels and unit kinds are policy data: their names are in the policy
file (`Policy.channel_names`, `level_names`, `unit_kind_names`)."""

ITEM_KIND_NAMES = {"single": "单条信息", "brief": "简讯", "research": "综合调研信息"}
LATE_KIND_NAMES = {"late": "迟报", "missed": "漏报", "concealed": "瞒报"}
ASSESSMENT_NAMES = {"adequate": "称职", "inadequate": "不称职"}
DISPUTE_OUTCOME_NAMES = {"upheld": "维持扣分", "revoked": "撤销扣分"}
