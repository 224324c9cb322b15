// The Function App: Linux, Elastic Premium or Dedicated (planSku), running pgvault's container image (the app plus
// pg_dump/pg_restore; see docs/deploy.md, "Why Elastic Premium" and "Long dumps and scale-in"). Every connection is identity-based through the one user-assigned
// identity; no app setting holds a key, password or connection secret.
param namePrefix string
param location string
param tags object
param identityId string
param identityClientId string
param appSubnetId string
@description('Full image reference the app starts with. azd deploy replaces it with the image it built and pushed.')
param image string
param runtimeStorage { blobServiceUri: string, queueServiceUri: string, tableServiceUri: string }
param vaultStorage { blobServiceUri: string, tableServiceUri: string }
param applicationInsightsConnectionString string
@description('EP1-EP3: Elastic Premium, scales out on load. P1v3-P3v3: Dedicated, a fixed maximumInstances instances that are never scaled in (docs/deploy.md, "Long dumps and scale-in").')
@allowed(['EP1', 'EP2', 'EP3', 'P1v3', 'P2v3', 'P3v3'])
param planSku string
@minValue(1)
@maxValue(100)
param maximumInstances int
param settings {
  schedulerSchedule: string
  flexBackupTimeout: string
  vaultImmutability: string
  softDeleteRetentionDays: int
  maxConcurrentDumps: int
  authMode: string
  minSslMode: string
  entraSignInHosts: string
  // The Key Vault hosts references may name: the deployed vault, plus any the deployer listed.
  keyVaultHosts: string
  // The Event Grid topic's publish URL (modules/eventGrid.bicep).
  eventGridTopicEndpoint: string
}

var elastic = startsWith(planSku, 'EP')

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${namePrefix}-plan'
  location: location
  tags: tags
  kind: elastic ? 'elastic' : 'linux'
  // Dedicated: the instance count is fixed (no autoscale rules), so no instance is ever drained under a running dump.
  sku: elastic ? { tier: 'ElasticPremium', name: planSku } : { tier: 'PremiumV3', name: planSku, capacity: maximumInstances }
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: elastic ? maximumInstances : null
  }
}

// Elastic Premium scales on events; the scale controller cannot read a task hub behind private endpoints, so the
// runtime reports its own load. Dedicated has no event-driven scaling (nor its drain on scale-in) and needs Always On
// so timers and the task hub's queues are polled without HTTP traffic.
var scaleConfig = elastic
  ? { functionsRuntimeScaleMonitoringEnabled: true, minimumElasticInstanceCount: 1, functionAppScaleLimit: maximumInstances }
  : { alwaysOn: true }

// Every setting app code reads is either here or documented as optional in docs/configuration.md; the settings
// parity test (test/infra/settingsParity.test.ts) holds this list, as compiled, that table and local.settings.sample.json to
// the code. Connections are identity-based: `__credential` and `__clientId` name the identity for the service URIs.
var appSettings = [
  { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'node' }
  // The code is in the image; nothing is mounted over it.
  { name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE', value: 'false' }
  { name: 'AzureWebJobsStorage__blobServiceUri', value: runtimeStorage.blobServiceUri }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: runtimeStorage.queueServiceUri }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: runtimeStorage.tableServiceUri }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'VaultStorage__blobServiceUri', value: vaultStorage.blobServiceUri }
  { name: 'VaultStorage__tableServiceUri', value: vaultStorage.tableServiceUri }
  { name: 'VaultStorage__credential', value: 'managedidentity' }
  { name: 'VaultStorage__clientId', value: identityClientId }
  // DefaultAzureCredential (Key Vault, ARM) picks the user-assigned identity by this.
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
  { name: 'ARM_ENDPOINT', value: environment().resourceManager }
  { name: 'SCHEDULER_SCHEDULE', value: settings.schedulerSchedule }
  { name: 'FLEX_BACKUP_TIMEOUT', value: settings.flexBackupTimeout }
  { name: 'VAULT_IMMUTABILITY', value: settings.vaultImmutability }
  { name: 'SOFT_DELETE_RETENTION_DAYS', value: string(settings.softDeleteRetentionDays) }
  { name: 'MAX_CONCURRENT_DUMPS', value: string(settings.maxConcurrentDumps) }
  { name: 'AUTH_MODE', value: settings.authMode }
  // Where credentials may go (docs/security.md, "Credentials go only to their servers").
  { name: 'MIN_SSL_MODE', value: settings.minSslMode }
  { name: 'ENTRA_SIGN_IN_HOSTS', value: settings.entraSignInHosts }
  { name: 'KEY_VAULT_HOSTS', value: settings.keyVaultHosts }
  // Events to Event Grid, sent as the app's identity (docs/operations.md, "Events").
  { name: 'EVENT_GRID_TOPIC_ENDPOINT', value: settings.eventGridTopicEndpoint }
]

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: '${namePrefix}-func'
  location: location
  // azd finds the app to deploy the `api` service (azure.yaml) to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux,container'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: appSubnetId
    siteConfig: {
      ...scaleConfig
      linuxFxVersion: 'DOCKER|${image}'
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identityClientId
      // All outbound traffic through the VNet: private endpoints of both storage accounts and Key Vault, and
      // protected servers on private addresses.
      vnetRouteAllEnabled: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      appSettings: appSettings
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
