#include "lipsyncd/core/endpoint_catalog.hpp"

#include "lipsyncd/core/error.hpp"

namespace lipsyncd {

std::string CatalogEndpoint::allowed_models() const {
  if (!has_model_field()) return "none (this endpoint has no model field)";
  std::string text;
  for (const auto& model : models) {
    if (!text.empty()) text += ", ";
    text += model.name;
  }
  return text;
}

const CatalogModel* CatalogEndpoint::find_model(std::string_view name) const noexcept {
  for (const auto& model : models) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

const std::vector<CatalogEndpoint>& endpoint_catalog() {
  // fal-protocol.md §9.1-9.2: v1 $0.70/min for every model; v2 $3/min, lipsync-2-pro about
  // 1.67x that; v3 (sync-3) has no model field and costs $8/min. Every endpoint takes about
  // 10 minutes of video per request (sync-lipsync-model.md "Limitations").
  static const std::vector<CatalogEndpoint> kCatalog = {
      {"fal-ai/sync-lipsync",
       {{"lipsync-1.9.0-beta", 0.70}, {"lipsync-1.8.0", 0.70}, {"lipsync-1.7.1", 0.70}},
       0.70,
       600},
      {"fal-ai/sync-lipsync/v2", {{"lipsync-2", 3.00}, {"lipsync-2-pro", 5.00}}, 3.00, 600},
      {"fal-ai/sync-lipsync/v3", {}, 8.00, 600},
  };
  return kCatalog;
}

const CatalogEndpoint* find_endpoint(std::string_view id) noexcept {
  for (const auto& endpoint : endpoint_catalog()) {
    if (endpoint.id == id) return &endpoint;
  }
  return nullptr;
}

std::string known_endpoints() {
  std::string text;
  for (const auto& endpoint : endpoint_catalog()) {
    if (!text.empty()) text += ", ";
    text += endpoint.id;
  }
  return text;
}

ModelChoice resolve_model(std::string_view endpoint_id, std::string_view requested,
                          const PriceOverrides& overrides) {
  const CatalogEndpoint* endpoint = find_endpoint(endpoint_id);
  if (endpoint == nullptr) {
    throw Error("unknown_endpoint",
                "endpoint " + std::string(endpoint_id) +
                    " is not a sync-lipsync endpoint "
                    "lipsyncd knows (its models and price are unknown)",
                "use one of " + known_endpoints());
  }
  ModelChoice choice{std::string(endpoint->id), {}, endpoint->usd_per_minute, false};
  if (endpoint->has_model_field()) {
    const CatalogModel* model =
        requested.empty() ? &endpoint->models.front() : endpoint->find_model(requested);
    if (model == nullptr) {
      throw Error("unknown_model",
                  "model \"" + std::string(requested) + "\" is not a model of " +
                      std::string(endpoint->id) + " (allowed: " + endpoint->allowed_models() + ")",
                  "choose one of " + endpoint->allowed_models() +
                      ", or leave the model out "
                      "for the endpoint's default (" +
                      std::string(endpoint->models.front().name) + ")");
    }
    choice.model = std::string(model->name);
    choice.usd_per_minute = model->usd_per_minute;
  } else if (!requested.empty()) {
    throw Error("unknown_model",
                "model \"" + std::string(requested) + "\" cannot be sent to " +
                    std::string(endpoint->id) + ": that endpoint has no model field",
                "leave the model out for " + std::string(endpoint->id));
  }
  // A model's own override beats one for the whole endpoint.
  const PriceOverride* for_model = nullptr;
  const PriceOverride* for_endpoint = nullptr;
  for (const auto& entry : overrides) {
    if (entry.endpoint != choice.endpoint) continue;
    if (entry.model.empty()) {
      for_endpoint = &entry;
    } else if (entry.model == choice.model) {
      for_model = &entry;
    }
  }
  const PriceOverride* best = for_model != nullptr ? for_model : for_endpoint;
  if (best != nullptr) {
    choice.usd_per_minute = best->usd_per_minute;
    choice.price_overridden = true;
  }
  return choice;
}

double estimate_usd(double output_s, double usd_per_minute) noexcept {
  return output_s / 60.0 * usd_per_minute;
}

}  // namespace lipsyncd
