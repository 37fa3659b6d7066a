#pragma once
// The one place that knows fal's sync-lipsync endpoints: which `model` values each accepts
// (its default first), and what a minute of output video costs there. Prices can be overridden
// by configuration ([prices]) when fal changes its price list; models cannot, because fal
// refuses (422) a model its schema does not list, after the inputs were already uploaded.
// Source: fal-protocol.md §9 and fal's model pages.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lipsyncd {

struct CatalogModel {
  std::string_view name;
  double usd_per_minute;
};

struct CatalogEndpoint {
  std::string_view id;               // e.g. "fal-ai/sync-lipsync/v2"
  std::vector<CatalogModel> models;  // default first; empty: the input has no `model` field
  double usd_per_minute = 0;         // the price when the input has no `model` field
  // The longest video one request may carry (sync-lipsync-model.md "Limitations": about 10
  // minutes). Longer pairs are long-form jobs, split into several requests.
  double max_video_s = 600;

  bool has_model_field() const noexcept { return !models.empty(); }
  // "lipsync-2, lipsync-2-pro", or "none (this endpoint has no model field)".
  std::string allowed_models() const;
  const CatalogModel* find_model(std::string_view name) const noexcept;
};

// Every endpoint lipsyncd can send jobs to, fal-ai/sync-lipsync (the default) first.
const std::vector<CatalogEndpoint>& endpoint_catalog();
const CatalogEndpoint* find_endpoint(std::string_view id) noexcept;
// "fal-ai/sync-lipsync, fal-ai/sync-lipsync/v2, fal-ai/sync-lipsync/v3".
std::string known_endpoints();

// A [prices] entry: the price of one model of an endpoint, or of every model of it when
// `model` is empty.
struct PriceOverride {
  std::string endpoint;
  std::string model;
  double usd_per_minute = 0;
};
using PriceOverrides = std::vector<PriceOverride>;

// Where a job goes and what it costs: the endpoint, the model it sends (empty when the
// endpoint has no model field) and the rate of that pair.
struct ModelChoice {
  std::string endpoint;
  std::string model;
  double usd_per_minute = 0;
  bool price_overridden = false;  // the rate comes from [prices], not the catalog
};

// The model `requested` (empty: the endpoint's default) at `endpoint`, priced by the
// overrides first, then the catalog. Throws lipsyncd::Error: "unknown_endpoint" when the
// endpoint is not in the catalog, "unknown_model" when the model is not one the endpoint
// accepts (the message lists the allowed values).
ModelChoice resolve_model(std::string_view endpoint, std::string_view requested,
                          const PriceOverrides& overrides = {});

// What a job of `output_s` seconds of output costs at `usd_per_minute`.
double estimate_usd(double output_s, double usd_per_minute) noexcept;

}  // namespace lipsyncd
