#pragma once
/// \file
/// The dynamic value the template evaluator works on, and the Go formatting of values.
///
/// Go's text/template works on reflect.Value; we only need the handful of Go types that
/// Prometheus's and Alertmanager's template data and functions produce, so a small tagged
/// struct stands in for them. `Type` keeps the Go type name where it changes behaviour
/// (methods such as KV.SortedPairs, Alerts.Firing) or error messages.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promwatch::tmpl {

/// No string a template builds may exceed this (the rendered output has the same cap), so a
/// hostile template cannot double a variable until memory runs out.
inline constexpr std::size_t kMaxStringBytes = 1 << 20;

struct Zone;  // a loaded time zone (gotime.cpp)

/// Go's time.Time: an instant plus the location it is shown in (null = UTC).
struct GoTime {
  std::int64_t sec = 0;  ///< seconds since the Unix epoch
  std::int32_t nsec = 0;
  std::shared_ptr<const Zone> zone;
};

/// Go's zero time (0001-01-01 00:00:00 UTC), seconds since the Unix epoch.
inline constexpr std::int64_t kGoZeroTimeSec = -62135596800LL;

enum class Kind : std::uint8_t { Nil, Bool, Int, Float, String, List, Map, Object, Time, Duration };

/// The Go type behind a value, where it matters.
enum class Type : std::uint8_t {
  Plain,        // bool, int, float64, string, []interface{}, map[string]interface{}
  Html,         // html/template.HTML (safeHtml)
  StringSlice,  // []string
  Alerts,       // Alertmanager template.Alerts: methods Firing, Resolved
  Pairs,        // Alertmanager template.Pairs: methods Names, Values
  StringMap,    // map[string]string (Prometheus labels)
  KV,           // Alertmanager template.KV: methods SortedPairs, Names, Values, Remove
  Pointer,      // *time.Time (Prometheus's toTime), *template.sample: printed with '&'
  QueryResult,  // Prometheus template.queryResult ([]*sample), what `query` returns
};

struct Value;
struct Object;
using ValueList = std::vector<Value>;
using ValueMap = std::vector<std::pair<std::string, Value>>;  ///< sorted by key, unique keys

struct Value {
  Kind kind = Kind::Nil;
  Type type = Type::Plain;
  bool b = false;
  std::int64_t i = 0;  ///< Int; Duration in nanoseconds
  double f = 0;
  std::string s;
  std::shared_ptr<const ValueList> list;
  std::shared_ptr<const ValueMap> map;
  std::shared_ptr<const Object> obj;
  GoTime t;

  static Value boolean(bool v) {
    Value r;
    r.kind = Kind::Bool;
    r.b = v;
    return r;
  }
  static Value integer(std::int64_t v) {
    Value r;
    r.kind = Kind::Int;
    r.i = v;
    return r;
  }
  static Value number(double v) {
    Value r;
    r.kind = Kind::Float;
    r.f = v;
    return r;
  }
  static Value string(std::string v, Type type = Type::Plain) {
    Value r;
    r.kind = Kind::String;
    r.type = type;
    r.s = std::move(v);
    return r;
  }
  static Value list_of(ValueList v, Type type = Type::Plain) {
    Value r;
    r.kind = Kind::List;
    r.type = type;
    r.list = std::make_shared<const ValueList>(std::move(v));
    return r;
  }
  static Value map_of(ValueMap v, Type type = Type::Plain) {
    Value r;
    r.kind = Kind::Map;
    r.type = type;
    r.map = std::make_shared<const ValueMap>(std::move(v));
    return r;
  }
  static Value object(std::shared_ptr<const Object> o) {
    Value r;
    r.kind = Kind::Object;
    r.obj = std::move(o);
    return r;
  }
  static Value time(GoTime t) {
    Value r;
    r.kind = Kind::Time;
    r.t = std::move(t);
    return r;
  }
  static Value duration(std::int64_t ns) {
    Value r;
    r.kind = Kind::Duration;
    r.i = ns;
    return r;
  }
};

/// A Go struct: named fields in declaration order (printing and JSON keep that order).
struct Object {
  std::string type_name;
  std::vector<std::string> names;
  std::vector<std::string> json_names;  ///< the `json:"..."` tags, for toJson
  std::vector<Value> values;
  const Value* field(std::string_view name) const {
    for (std::size_t k = 0; k < names.size(); ++k)
      if (names[k] == name) return &values[k];
    return nullptr;
  }
};

/// Go's name for the value's type, as error messages print it ("string", "float64", "template.KV").
std::string type_name(const Value& v);
/// Go's template truthiness: false, 0, nil, and empty strings, lists and maps are false.
bool truth(const Value& v);
/// Looks a key up in a sorted map; null when absent.
const Value* map_find(const ValueMap& m, std::string_view key);

/// fmt's %v: what `{{ x }}` and print/printf %v produce. Nil prints `<nil>`.
void print_value(std::string& out, const Value& v);
std::string to_print_string(const Value& v);

/// Go's fmt.Sprint / fmt.Sprintln / fmt.Sprintf over template values. They throw
/// FuncError (funcs.hpp) when the result would exceed kMaxStringBytes.
std::string go_sprint(const std::vector<Value>& args);
std::string go_sprintln(const std::vector<Value>& args);
std::string go_sprintf(std::string_view format, const std::vector<Value>& args);
/// fmt.Sprintf("%.<prec>g", v) for a float64 (Prometheus's humanize family uses %.4g).
std::string go_format_g(double v, int prec);

// ---- time (gotime.cpp) ----

/// time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST".
std::string go_time_string(const GoTime& t);
/// time.Time.Format(layout) with Go's reference-time layout.
std::string go_format_time(const GoTime& t, std::string_view layout);
/// time.Time.Format(time.RFC3339Nano), for JSON.
std::string go_time_rfc3339nano(const GoTime& t);
/// time.Duration.String(): "1h2m3.5s", "500ms", "0s".
std::string go_duration_string(std::int64_t ns);
/// time.LoadLocation from the system zoneinfo. Null with `*error` set when unknown.
/// Thread-safe; zones are loaded once and cached.
std::shared_ptr<const Zone> load_zone(std::string_view name, std::string* error);

}  // namespace promwatch::tmpl
