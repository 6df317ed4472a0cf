-- Argo CD health check for spell.dev/Cast: a Cast is Healthy once its run
-- succeeded (Complete=True), Degraded once it failed, was cancelled or
-- timed out (Failed=True), and Progressing until then.
-- Install: argocd-cm key "resource.customizations.health.spell.dev_Cast"
-- (the README shows the ConfigMap entry).
local hs = {status = "Progressing", message = "waiting for the controller"}
if obj.status == nil then
  return hs
end
if obj.status.message ~= nil then
  hs.message = obj.status.message
end
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Failed" and c.status == "True" then
      hs.status = "Degraded"
      hs.message = c.reason .. ": " .. (c.message or "")
      return hs
    end
    if c.type == "Complete" and c.status == "True" then
      hs.status = "Healthy"
      hs.message = c.message or hs.message
      return hs
    end
  end
end
return hs
