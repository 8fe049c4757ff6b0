// The functions of Prometheus 2.x and 3.x (facts from promql/parser/functions.go and the
// "Query functions" documentation). Both versions' names are accepted: `holt_winters` (2.x,
// removed in 3.0) and its 3.x name `double_exponential_smoothing`. Left out: the functions of
// 3.x's experimental duration expressions (`step()`, `range()`, `min_of`, `max_of`, ...), which
// no released configuration can rely on yet.

#include "functions.hpp"

#include <algorithm>
#include <array>

namespace promwatch::promql::detail {
namespace {

using enum ValueType;

const std::vector<Function>& table() {
  static const std::vector<Function> functions = [] {
    std::vector<Function> f = {
        {"abs", {Vector}},
        {"absent", {Vector}},
        {"absent_over_time", {Matrix}},
        {"acos", {Vector}},
        {"acosh", {Vector}},
        {"asin", {Vector}},
        {"asinh", {Vector}},
        {"atan", {Vector}},
        {"atanh", {Vector}},
        {"avg_over_time", {Matrix}},
        {"ceil", {Vector}},
        {"changes", {Matrix}},
        {"clamp", {Vector, Scalar, Scalar}},
        {"clamp_max", {Vector, Scalar}},
        {"clamp_min", {Vector, Scalar}},
        {"cos", {Vector}},
        {"cosh", {Vector}},
        {"count_over_time", {Matrix}},
        {"days_in_month", {Vector}, 1},
        {"day_of_month", {Vector}, 1},
        {"day_of_week", {Vector}, 1},
        {"day_of_year", {Vector}, 1},
        {"deg", {Vector}},
        {"delta", {Matrix}},
        {"deriv", {Matrix}},
        {"double_exponential_smoothing", {Matrix, Scalar, Scalar}},
        {"exp", {Vector}},
        {"first_over_time", {Matrix}},
        {"floor", {Vector}},
        {"histogram_avg", {Vector}},
        {"histogram_count", {Vector}},
        {"histogram_fraction", {Scalar, Scalar, Vector}},
        {"histogram_quantile", {Scalar, Vector}},
        {"histogram_stddev", {Vector}},
        {"histogram_stdvar", {Vector}},
        {"histogram_sum", {Vector}},
        {"holt_winters", {Matrix, Scalar, Scalar}},
        {"hour", {Vector}, 1},
        {"idelta", {Matrix}},
        {"increase", {Matrix}},
        {"info", {Vector, Vector}, 1},
        {"irate", {Matrix}},
        {"label_join", {Vector, String, String, String}, -1},
        {"label_replace", {Vector, String, String, String, String}},
        {"last_over_time", {Matrix}},
        {"ln", {Vector}},
        {"log10", {Vector}},
        {"log2", {Vector}},
        {"mad_over_time", {Matrix}},
        {"max_over_time", {Matrix}},
        {"min_over_time", {Matrix}},
        {"minute", {Vector}, 1},
        {"month", {Vector}, 1},
        {"pi", {}, 0, Scalar},
        {"predict_linear", {Matrix, Scalar}},
        {"present_over_time", {Matrix}},
        {"quantile_over_time", {Scalar, Matrix}},
        {"rad", {Vector}},
        {"rate", {Matrix}},
        {"resets", {Matrix}},
        {"round", {Vector, Scalar}, 1},
        {"scalar", {Vector}, 0, Scalar},
        {"sgn", {Vector}},
        {"sin", {Vector}},
        {"sinh", {Vector}},
        {"sort", {Vector}},
        {"sort_by_label", {Vector, String}, -1},
        {"sort_by_label_desc", {Vector, String}, -1},
        {"sort_desc", {Vector}},
        {"sqrt", {Vector}},
        {"stddev_over_time", {Matrix}},
        {"stdvar_over_time", {Matrix}},
        {"sum_over_time", {Matrix}},
        {"tan", {Vector}},
        {"tanh", {Vector}},
        {"time", {}, 0, Scalar},
        {"timestamp", {Vector}},
        {"ts_of_first_over_time", {Matrix}},
        {"ts_of_last_over_time", {Matrix}},
        {"ts_of_max_over_time", {Matrix}},
        {"ts_of_min_over_time", {Matrix}},
        {"vector", {Scalar}},
        {"year", {Vector}, 1},
    };
    std::sort(f.begin(), f.end(), [](const Function& a, const Function& b) { return a.name < b.name; });
    return f;
  }();
  return functions;
}

}  // namespace

const Function* find_function(std::string_view name) {
  const auto& t = table();
  auto it = std::lower_bound(t.begin(), t.end(), name, [](const Function& f, std::string_view n) { return f.name < n; });
  if (it == t.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace promwatch::promql::detail
