"""Column names and meanings of the two history tables.

A history is an **events** table (one row per past event) and a **series**
table (one row per event per interval). Times are UTC; counts are per
interval; the interval length is the spacing of an event's timestamps.
"""

# events: required columns. Every other column is kept as an event attribute;
# the numeric ones are the audience signals known before the event.
EVENT_ID = "event_id"
EVENT_COLUMNS = {
    "event_id": "identifier, unique per event (text)",
    "name": "human-readable event name (text)",
    "scheduled_start": "announced start (UTC timestamp)",
    "actual_start": "when the event really went live (UTC timestamp)",
    "end": "when the event ended (UTC timestamp)",
}
EVENT_TIMES = ("scheduled_start", "actual_start", "end")

# series: required columns, then the measured columns of which any subset may
# be present (a web trace may have `requests` alone).
SERIES_KEYS = {
    "event_id": "event the row belongs to (text)",
    "timestamp": "start of the interval (UTC timestamp)",
}
COUNT_COLUMNS = {
    "joins": "successful joins in the interval (count)",
    "leaves": "listeners who left in the interval (count)",
    "join_errors": "join attempts that failed in the interval (count)",
    "requests": "requests received in the interval (count); in the generated sample, "
    "join attempts including retries",
}
LEVEL_COLUMNS = {
    "concurrent": "listeners connected at the end of the interval (count, a level: "
    "averaged, not summed, when resampling)",
}
MEASURED_COLUMNS = {**COUNT_COLUMNS, **LEVEL_COLUMNS}
