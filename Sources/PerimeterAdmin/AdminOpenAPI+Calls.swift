import PerimeterAdminModels
import PerimeterStorage

/// The call log's paths and schemas of the admin API's OpenAPI document.
extension AdminOpenAPI {
    static let window = #"A duration back from now (90s, 15m, 1h, 30d, 4w) or an RFC 3339 time"#

    static let callPaths = #"""
                "/calls": {
                  "get": {
                    "summary": "The call log, newest first (ties on time by id), a page at a time",
                    "parameters": [
                      {"name": "key_id", "in": "query", "schema": {"type": "string"}},
                      {"name": "env", "in": "query", "schema": {"type": "string"}},
                      {"name": "model", "in": "query", "schema": {"type": "string"}},
                      {"name": "outcome", "in": "query", "schema": {"type": "string", "enum": \#(outcomes)}},
                      {"name": "since", "in": "query", "schema": \#(since), "description": "\#(window)"},
                      {"name": "until", "in": "query", "schema": \#(since), "description": "Calls before this time only: \#(window)"},
                      {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": \#(TextPattern.jsonString(CallCursor.pattern))}, "description": "The next_cursor of the previous page: this page starts strictly after its last call"},
                      {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}
                    ],
                    "responses": {"200": {"description": "Calls", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallList"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}
                  }
                },
                "/calls/breakdown": {
                  "get": {
                    "summary": "Calls of a key or an environment counted by one column (a key's denials by error code, its source addresses), most calls first, at most 100 rows; in_flight calls left out",
                    "parameters": [
                      {"name": "by", "in": "query", "required": true, "schema": {"type": "string", "enum": ["outcome", "error_code", "client_ip", "model"]}},
                      {"name": "key_id", "in": "query", "schema": {"type": "string"}},
                      {"name": "env", "in": "query", "schema": {"type": "string"}},
                      {"name": "since", "in": "query", "schema": \#(since), "description": "\#(window)"},
                      {"name": "until", "in": "query", "schema": \#(since), "description": "Calls before this time only: \#(window)"}
                    ],
                    "responses": {"200": {"description": "Counts", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Breakdown"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}
                  }
                },
                "/calls/stream": {
                  "get": {
                    "summary": "The calls this instance finishes, live, as server-sent events: 'event: call' with the object GET /calls lists as data; 'event: dropped' with {\"dropped\": n} when the reader fell behind and n calls were left out; a ': keepalive' comment every 15 seconds. The stream ends when the gateway shuts down",
                    "parameters": [
                      {"name": "key_id", "in": "query", "schema": {"type": "string"}, "description": "Only this key's calls"},
                      {"name": "env", "in": "query", "schema": {"type": "string"}, "description": "Only this environment's calls"}
                    ],
                    "responses": {"200": {"description": "An endless event stream", "headers": {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}}, "content": {"text/event-stream": {"schema": {"type": "string"}}}}, "401": {"$ref": "#/components/responses/Error"}, "503": {"description": "As many streams are open as the gateway serves at once", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
                  }
                },
                "/spend/series": {
                  "get": {
                    "summary": "Spend over time: per UTC-aligned bucket and group, the calls, denials, tokens and cost, counted as GET /spend counts them; only non-empty buckets, by start then group",
                    "parameters": [
                      {"name": "bucket", "in": "query", "schema": {"type": "string", "enum": ["minute", "hour", "day"], "default": "hour"}},
                      {"name": "group_by", "in": "query", "schema": {"type": "string", "enum": ["none", "env", "key", "model", "provider", "owner"], "default": "none"}},
                      {"name": "key_id", "in": "query", "schema": {"type": "string"}, "description": "The calls of this key only"},
                      {"name": "since", "in": "query", "schema": \#(since), "description": "\#(window). Default: the last 60 minutes, 48 hours or 30 days (by bucket, counting the bucket until is in)"},
                      {"name": "until", "in": "query", "schema": \#(since), "description": "Calls before this time only: \#(window). Default: now"}
                    ],
                    "responses": {"200": {"description": "The series", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SpendSeries"}}}}, "400": {"description": "A parameter is not valid, or the window holds more than 1,440 buckets", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}, "401": {"$ref": "#/components/responses/Error"}}
                  }
                },
        """#

    static let outcomes = #"["ok", "denied", "upstream_error", "stream_cut", "client_cancelled", "in_flight", "interrupted"]"#

    static let callSchemas = #"""
                  "CallList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}}, "next_cursor": {"type": "string", "description": "Present when more calls may follow: pass it as cursor for the next page"}}},
                  "Breakdown": {"type": "object", "required": ["by", "data"], "properties": {"by": {"type": "string", "enum": ["outcome", "error_code", "client_ip", "model"]}, "data": {"type": "array", "maxItems": 100, "items": {"type": "object", "required": ["value", "calls", "cost_usd"], "properties": {"value": {"type": "string", "description": "The column's value; empty for calls without one"}, "calls": {"type": "integer"}, "cost_usd": {"type": "number"}}}}}},
                  "SpendSeries": {"type": "object", "required": ["bucket", "group_by", "since", "until", "data"], "properties": {
                    "bucket": {"type": "string", "enum": ["minute", "hour", "day"]}, "group_by": {"type": "string", "enum": ["none", "env", "key", "model", "provider", "owner"]},
                    "key_id": {"type": "string", "description": "Present when the series is of one key's calls"},
                    "since": {"type": "string", "format": "date-time"}, "until": {"type": "string", "format": "date-time"},
                    "data": {"type": "array", "items": {"type": "object", "required": ["start", "group", "calls", "denied", "input_tokens", "output_tokens", "cost_usd"], "properties": {
                      "start": {"type": "string", "format": "date-time"}, "group": {"type": "string", "description": "Empty for group_by none, and for calls without the grouped value"},
                      "calls": {"type": "integer"}, "denied": {"type": "integer", "description": "Calls the gateway refused"}, "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "cost_usd": {"type": "number"}}}}}},
        """#
}
