#include "config_location.hpp"

namespace lipsyncd::cli {

LocatedConfig locate_config(const std::optional<std::filesystem::path>& flag,
                            const Environment& env) {
  if (flag) return {load_config(*flag, env), std::filesystem::absolute(*flag)};
  const auto local = std::filesystem::current_path() / "config" / "lipsyncd.toml";
  std::error_code ec;
  if (std::filesystem::is_regular_file(local, ec)) return {load_config(local, env), local};
  return {default_config(env), std::nullopt};
}

}  // namespace lipsyncd::cli
