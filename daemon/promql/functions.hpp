#pragma once
// The PromQL function table: name, argument types, how many optional arguments, result type.

#include <string_view>
#include <vector>

#include "promwatch/promql.hpp"

namespace promwatch::promql::detail {

struct Function {
  std::string_view name;
  std::vector<ValueType> args;
  /// Prometheus's `Variadic`: 0 takes exactly `args`; otherwise at least args.size() - 1, at
  /// most args.size() - 1 + variadic when it is positive, any number more when it is -1; the
  /// arguments past `args` have the last type.
  int variadic = 0;
  ValueType result = ValueType::Vector;
};

/// nullptr when there is no function of that name.
const Function* find_function(std::string_view name);

}  // namespace promwatch::promql::detail
