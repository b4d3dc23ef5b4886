"""The standard operating procedures Lantai ships, one per alarm category, zh and en.

A supervisor adapts them to the archive (phone numbers, who holds which key, where the
valves are); these are the starting point, written from ../shared/reference/
archive-standards.md. Where a step rests on a norm, the comment above the category says
which section; steps without a source are ordinary safety practice, and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sensors.events import Category


@dataclass(frozen=True, slots=True)
class SopText:
    """A procedure's words: a title and numbered steps, in Chinese and English."""

    title_zh: str
    title_en: str
    text_zh: str
    text_en: str


def _procedure(title_zh: str, title_en: str, *steps: tuple[str, str]) -> SopText:
    """A procedure from its steps, each as (zh, en) side by side so that a translation
    cannot drift out of step; the text numbers them one per line."""
    return SopText(
        title_zh=title_zh,
        title_en=title_en,
        text_zh="\n".join(f"{n}. {zh}" for n, (zh, _) in enumerate(steps, 1)),
        text_en="\n".join(f"{n}. {en}" for n, (_, en) in enumerate(steps, 1)),
    )


# Fire. Sources (archive-standards.md):
# - §5.3, GB 50116-2013 §4.1.6: linked fire equipment acts on the AND of two independent
#   alarm-initiating devices: one detector is checked on the spot, two are a fire.
# - §5.3, GB 50370-2005 §5.0.3/§5.0.5: gas discharge after two independent signals, with a
#   controllable delay of at most 30 s; the room must be empty by then.
# - §1.1, JGJ 25-2010 §6.0.6: special-collection and non-paper stacks have inert-gas
#   extinguishing; §6.0.9: stack doors are class-A fire doors.
# - §1.4, DA/T 84-2019: report at once and truthfully (不瞒报、不缓报、不漏报); people
#   first, then the records (以人为本、人档兼顾).
# "No water on records" and "wet records within 48 h": conservation practice; water
# ruins paper as surely as fire, and wet paper grows mold within days (§4.4).
_FIRE = _procedure(
    "火警处置程序",
    "Fire alarm procedure",
    (
        (
            "确认：看报警是一个探测器还是两个。按 GB 50116-2013 §4.1.6，"
            '联动以两个独立探测器同时报警（"与"逻辑）为准。只有一个探测器报警时，'
            "立即派最近的保安带灭火器和对讲机到现场查看，不要等待。"
        ),
        (
            "Confirm: is it one detector or two? GB 50116-2013 §4.1.6 links fire equipment to two "
            "independent detectors alarming together (AND logic). With one detector, send the "
            "nearest guard now with an extinguisher and a radio to look; do not wait."
        ),
    ),
    (
        (
            "两个探测器报警、或现场见烟见火：按真实火警处置，立即拨打 119，报清地址、库房、"
            "燃烧物（纸质档案），如实、及时报告（DA/T 84：不瞒报、不缓报、不漏报）。"
        ),
        (
            "Two detectors, or smoke or flame seen: treat it as a real fire. Call 119 at once; "
            "give the address, the room and what is burning (paper records). Report promptly and "
            "truthfully (DA/T 84: nothing hidden, delayed or left out)."
        ),
    ),
    (
        "先人后档：广播疏散库房和阅览室人员，清点人数，任何人不得返回。",
        (
            "People first: announce the evacuation of the stacks and reading rooms, count "
            "everybody out, and let nobody go back in."
        ),
    ),
    (
        (
            "气体灭火库房：喷放延时最长 30 秒（GB 50370 §5.0.3），确认库房内无人、关闭防火门；"
            "喷放后未经消防队许可不得开门进入。"
        ),
        (
            "Gas-protected rooms: the discharge delay is at most 30 s (GB 50370 §5.0.3). Make sure "
            "nobody is inside and the fire door is shut; after a discharge nobody enters until the "
            "fire brigade says so."
        ),
    ),
    (
        (
            "不要向档案喷水：水对纸质档案的损害往往不亚于火。交给气体灭火系统和消防队；"
            "初起火可用二氧化碳或洁净气体灭火器。"
        ),
        (
            "Do not spray water on records: water ruins paper as surely as fire. Leave it to the "
            "gas system and the fire brigade; a small first fire can take a CO2 or clean-agent "
            "extinguisher."
        ),
    ),
    (
        "切断该库房非消防、非安防电源，关闭防火门，引导消防队到达。",
        (
            "Cut the room's power except fire and security systems, keep the fire doors shut, and "
            "guide the fire brigade in."
        ),
    ),
    (
        "在系统中确认报警并写明现场情况；通知值班主管和安全员；封闭现场，记录各时间点。",
        (
            "Acknowledge the alarm here with what you found; tell the shift supervisor and the "
            "safety officer; keep the area closed and note the times."
        ),
    ),
    (
        "火灭后：受潮受湿档案 48 小时内冷冻或干燥处理，防止霉变；开具隐患并跟踪整改。",
        (
            "Afterwards: freeze or dry wet records within 48 h against mold; open a hazard for the "
            "cause and follow it up."
        ),
    ),
)

# Water. Sources (archive-standards.md):
# - §1.1, JGJ 25-2010 §7.1 (older text): no water points in stacks and no pipes across them,
#   so any water in a stack is a fault to trace to its source.
# - §4.4 (dpcalc mold table): at 20 °C germination takes about 14 days at 80 %RH and 4 days
#   at 90 %RH; §3.3, NAA: mold grows when RH stays over 65 % for a while. Wet paper is at
#   ~100 %: "dry or freeze within 48 h" is the conservation margin before that clock runs.
_WATER = _procedure(
    "漏水处置程序",
    "Water leak procedure",
    (
        (
            "立即派人到现场，带手电、塑料布和吸水材料；查明水从哪里来（管道、屋顶、空调冷凝水、"
            "除湿机）。"
        ),
        (
            "Send somebody now with a torch, plastic sheeting and absorbent material; find where "
            "the water comes from (a pipe, the roof, AC condensate, a dehumidifier)."
        ),
    ),
    (
        "关水：关闭该区域进水阀门。水接近电气设备时，先断电，确保人身安全。",
        (
            "Stop the water: close the valve for the zone. If water is near electrics, cut the "
            "power first: people's safety comes first."
        ),
    ),
    (
        "保护档案：用塑料布覆盖架上档案；把低层和积水处的档案转移到干燥库房，登记转移清单。",
        (
            "Protect the records: cover the shelves with plastic sheeting; move records from low "
            "shelves and wet floor to a dry room, and list what was moved."
        ),
    ),
    (
        "排水：清除积水，加强通风，开启除湿机，盯住该库房的相对湿度曲线。",
        (
            "Remove the water, ventilate, run the dehumidifiers, and watch the room's humidity "
            "chart."
        ),
    ),
    (
        (
            "受湿档案 48 小时内干燥或冷冻：相对湿度 80% 时约两周、"
            "90% 时约四天就会长霉（参考 dpcalc 霉变表）。"
        ),
        (
            "Dry or freeze wet records within 48 h: at 80 %RH mold germinates in about two weeks, "
            "at 90 %RH in about four days (dpcalc mold table)."
        ),
    ),
    (
        "拍照记录，在系统中确认报警并写明原因和处置；通知主管；对漏水原因开具隐患，整改后复查。",
        (
            "Take photos, acknowledge the alarm here with the cause and what was done, tell the "
            "supervisor, and open a hazard for the cause to follow up and re-inspect."
        ),
    ),
)

# Intrusion (forced door, after-hours entry, badge refused). Sources (archive-standards.md):
# - §1.1: archives run intrusion alarm, CCTV, access control and guard tours (JGJ 25).
# - §2: non-staff enter only with an archivist present; access control keeps entry and exit
#   records (Lishui rules). Two people going together: practice, not a verified norm.
# - §2, yearly inventory 账物相符: after an intrusion the room's holdings are checked.
# 110 is China's police number; confronting an intruder is left to the police.
_INTRUSION = _procedure(
    "入侵/强行开门处置程序",
    "Intrusion / forced door procedure",
    (
        "先看监控：调出该门及周边摄像头，确认是否有人、几个人、往哪里去。",
        (
            "Look at the cameras first: the door and around it. Is anybody there, how many, where "
            "are they going?"
        ),
    ),
    (
        "查门禁记录：是谁的卡、是否授权、是否在工作时间。",
        "Check the access log: whose badge, was it authorised, is it within working hours?",
    ),
    (
        (
            "确认有未经授权人员或门被强行打开：立即报警 110，通知值班主管；不要单独进入，"
            "不要与人员正面冲突。"
        ),
        (
            "An unauthorised person, or a door forced open: call the police (110) and the shift "
            "supervisor now. Do not go in alone and do not confront anybody."
        ),
    ),
    (
        "两人结伴、带对讲机到现场，守住出入口，等待警方；保护现场，不要触碰门锁和物品。",
        (
            "Go in pairs with radios, hold the exits and wait for the police; keep the scene as it "
            "is and touch neither the lock nor anything inside."
        ),
    ),
    (
        "误报（如授权人员忘刷卡）：核实身份，在系统中确认报警并写明原因。",
        (
            "A false alarm (say, an authorised person who forgot to badge): check who it was and "
            "acknowledge the alarm here with the reason."
        ),
    ),
    (
        "事后：清点该库房档案（账物相符），检查门锁和门禁；记录并上报，开具隐患跟踪整改。",
        (
            "Afterwards: check the room's holdings against the register, check the lock and the "
            "access control, report it, and open a hazard to follow up."
        ),
    ),
)

# Climate. Sources (archive-standards.md):
# - §1.1, JGJ 25-2010 Table 5.2.1 and §1.2, 1987 rules art. 7: paper stacks 14–24 °C and
#   45–60 %RH (each room's band is on its page); §5.2.3 / art. 7: the day–night swing stays
#   within ±2 °C and ±5 %RH.
# - §3.1, ISO 11799: sharp fluctuations shall be avoided, so corrections are gradual.
# - §4.4, §3.3 (NAA): mold when RH stays over 65 %; §4.5: condensation at the dew point.
# - §1.2, 1987 rules art. 11: HVAC and dehumidifiers are maintained on schedule.
_CLIMATE = _procedure(
    "温湿度超限处置程序",
    "Temperature and humidity out of range",
    (
        (
            "打开该库房页面看曲线：哪个值超限（温度或相对湿度）、超出多少、变化多快；"
            "对照库房允许范围（纸质档案库 14–24 °C、45–60%，JGJ 25-2010 表 5.2.1）"
            "和昼夜波动（±2 °C、±5%）。"
        ),
        (
            "Open the room's page and read the chart: which value is out (temperature or RH), by "
            "how much and how fast. Compare with the room's band (paper stacks 14–24 °C, 45–60 "
            "%RH, JGJ 25-2010 Table 5.2.1) and the day–night swing (±2 °C, ±5 %RH)."
        ),
    ),
    (
        "先排除传感器故障：同一库房其他传感器是否一致，电量和最后上报时间是否正常。",
        (
            "Rule out a faulty sensor first: do the room's other sensors agree, are its battery "
            "and last report normal?"
        ),
    ),
    (
        "检查空调、除湿机、加湿机是否运行、设定是否正确；必要时重启或调整，联系维保单位。",
        (
            "Check that the air conditioning, dehumidifiers and humidifiers run with the right set "
            "points; restart or adjust them, or call the maintenance contractor."
        ),
    ),
    (
        (
            "湿度偏高：关闭门窗、开启除湿机；相对湿度长时间高于 65% 会长霉，"
            "注意墙面和管道是否结露（低于露点）。"
        ),
        (
            "Humidity high: close doors and windows and run the dehumidifiers. RH above 65 % for "
            "long grows mold; watch walls and pipes for condensation (below the dew point)."
        ),
    ),
    (
        "缓慢调回，不要骤升骤降（ISO 11799：避免剧烈波动）。",
        "Bring it back gradually, never in a jump (ISO 11799: avoid sharp fluctuations).",
    ),
    (
        "在系统中确认报警并写明原因和处置；本班内未恢复的，报告主管，由库房主管安排检查任务。",
        (
            "Acknowledge the alarm here with the cause and what was done; if it is not back within "
            "the shift, tell the supervisor, who has the stack manager check the room."
        ),
    ),
)

# Trouble: a sensor silent, offline, low on battery, reporting impossible values or with a
# wrong clock. Sources (archive-standards.md):
# - §6: no norm defines "offline"; Lantai's rule is silence past 3 reporting intervals (or
#   the device's own offline message), the same on the tiles and in the alarm.
# - §1.2, 1987 rules art. 10-11: readings twice a day and calibrated instruments, so a
#   missing sensor is replaced by manual readings until it is back.
_TROUBLE = _procedure(
    "传感器故障处置程序",
    "Sensor fault procedure",
    (
        "打开传感器状态页：哪个传感器、从什么时候起没有数据、电量多少、最后一次上报是什么时间。",
        (
            "Open the sensor health page: which sensor, since when it is silent, its battery and "
            "its last report."
        ),
    ),
    (
        (
            "烟感或漏水传感器离线意味着该库房失去保护：立即派保安到现场巡查，"
            "修复前每次巡查都要查看该库房。"
        ),
        (
            "A silent smoke or leak detector leaves the room unprotected: send a guard to check "
            "the room now, and at every patrol until it is fixed."
        ),
    ),
    (
        "检查电池、电源、网关和网络；更换电池，必要时重启网关。",
        (
            "Check the battery, the power, the gateway and the network; replace the battery, or "
            "restart the gateway."
        ),
    ),
    (
        (
            "温湿度传感器离线："
            "修复前每天至少两次人工读取并记录温湿度（1987 年《档案库房技术管理暂行规定》第十条）。"
        ),
        (
            "A climate sensor is out: read and note temperature and humidity by hand at least "
            "twice a day until it is back (1987 rules, art. 10)."
        ),
    ),
    (
        "本班内无法修复：为该传感器登记维护窗口或停用，写明原因，安排更换；修好后结束维护窗口。",
        (
            "Cannot fix it this shift: put the sensor in a maintenance window or out of service "
            "with the reason, and arrange a replacement; end the window once it is fixed."
        ),
    ),
    (
        "在系统中确认报警并写明处置。",
        "Acknowledge the alarm here with what was done.",
    ),
)

# System: Lantai itself (broker, store, notifier) degraded, so alarms may not arrive.
# The building's own fire alarm control panel stays the primary fire system (JGJ 25-2010
# §6.0.5, archive-standards.md §1.1); manual readings per the 1987 rules art. 10 (§1.2).
_SYSTEM = _procedure(
    "监测系统故障处置程序",
    "Monitoring system fault procedure",
    (
        "监测链路本身出了问题，报警可能收不到：查看本页顶部的系统状态，记录故障开始时间。",
        (
            "The monitoring chain itself is failing and alarms may not arrive: look at the system "
            "status at the top of this page and note when it started."
        ),
    ),
    (
        "以消防控制室的火灾报警控制器为准，值班人员留意其声光报警。",
        (
            "The fire alarm control panel in the fire control room is the authority now; the desk "
            "watches its lights and sounders."
        ),
    ),
    (
        "恢复前加密人工巡查所有库房，人工读取并记录温湿度。",
        (
            "Until it is fixed, patrol every stack more often and read and note temperature and "
            "humidity by hand."
        ),
    ),
    (
        "通知信息部门或兰台管理员处理（检查 MQTT 代理、数据库、短信通道），必要时重启服务。",
        (
            "Call IT or Lantai's administrator (check the MQTT broker, the database and the SMS "
            "channel); restart the service if needed."
        ),
    ),
    (
        "恢复后核对故障期间的数据和报警，记录恢复时间，在系统中确认报警。",
        (
            "Once it is back, check the data and alarms of the gap, note when it ended, and "
            "acknowledge the alarm here."
        ),
    ),
)

# Inspection: a patrol not signed within its window, a hazard past its deadline.
# Sources (archive-standards.md §2): 日巡查、周检查、月排查、季考核 (the Luzhou practice), and
# the hazard loop find → record → assign → rectify → re-inspect → file (隐患排查治理).
_INSPECTION = _procedure(
    "巡查逾期处置程序",
    "Overdue inspection procedure",
    (
        (
            "巡查任务逾期：联系负责的保安，了解原因（人手、突发情况、手机故障），"
            "立即安排人员补做巡查。"
        ),
        (
            "A patrol is overdue: call the guard responsible and ask why (staffing, an emergency, "
            "a phone problem); have somebody do it now."
        ),
    ),
    (
        "隐患整改逾期：查看该隐患的整改记录，联系责任人和主管，重新确定期限。",
        (
            "A hazard is past its deadline: read its rectification record, call its owner and the "
            "supervisor, and agree a new deadline."
        ),
    ),
    (
        '补做的巡查照常签到签字，系统会记为"逾期完成"。',
        "The late patrol is signed off as usual; Lantai records it as done late.",
    ),
    (
        "在系统中确认报警并写明原因；反复逾期的，报告主管调整排班或巡查计划。",
        (
            "Acknowledge the alarm here with the reason; if it keeps happening, tell the "
            "supervisor to change the rota or the patrol plan."
        ),
    ),
)

DEFAULT_SOPS: Mapping[Category, SopText] = MappingProxyType(
    {
        Category.FIRE: _FIRE,
        Category.WATER: _WATER,
        Category.INTRUSION: _INTRUSION,
        Category.CLIMATE: _CLIMATE,
        Category.TROUBLE: _TROUBLE,
        Category.SYSTEM: _SYSTEM,
        Category.INSPECTION: _INSPECTION,
    }
)
