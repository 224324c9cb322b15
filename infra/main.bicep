// pgvault in one resource group: `azd up` provisions this and deploys the container image (azure.yaml).
// What each piece is for, and the choices behind it: docs/deploy.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(20)
@description('azd environment name; names every resource.')
param environmentName string

@minLength(1)
param location string

// Lists are comma-separated strings so azd can pass them from environment variables (main.parameters.json).
@description('Comma-separated resource group ids (/subscriptions/.../resourceGroups/...) of protected servers; the app gets Reader on each.')
param protectedResourceGroupIds string = ''

@description('Comma-separated resource ids of Flexible Servers protected as `flexibleServer` instances; the app gets the long-term-retention backup role on each (list their resource groups above too).')
param flexibleServerIds string = ''

@allowed(['EP1', 'EP2', 'EP3', 'P1v3', 'P2v3', 'P3v3'])
@description('EP1-EP3: Elastic Premium (scales out on load). P1v3-P3v3: Dedicated, maximumInstances fixed instances, never scaled in: for dumps or restores longer than 60 minutes (docs/deploy.md, "Long dumps and scale-in").')
param planSku string = 'EP1'

@minValue(1)
@maxValue(100)
@description('Elastic Premium: most instances the plan scales out to. Dedicated: the fixed instance count (docs/deploy.md, "Scale-out").')
param maximumInstances int = 10

@allowed(['off', 'unlocked', 'locked'])
param vaultImmutability string = 'unlocked'

@minValue(1)
@maxValue(180)
param softDeleteRetentionDays int = 14

@minValue(1)
@maxValue(365)
@description('Storage\'s own soft delete on the vault (deleted blobs and containers), under pgvault\'s.')
param vaultBlobSoftDeleteDays int = 14

// The Flexible Server LTR writer runs in Microsoft's infrastructure and writes through SAS URLs over the vault's
// public endpoint; pgvault's own traffic always uses the private endpoints. Modes and evidence: docs/deploy.md,
// "Flexible Server backups reach the vault".
@allowed(['auto', 'off', 'trustedServices', 'resourceInstances', 'public'])
@description('How the Flexible Server long-term-retention writer reaches the vault. auto: off without flexibleServerIds, public with them (the only mode Microsoft is seen running this API against).')
param vaultFlexibleServerAccess string = 'auto'

@minValue(1)
@maxValue(64)
param maxConcurrentDumps int = 2

param schedulerSchedule string = '0 */5 * * * *'

param flexBackupTimeout string = 'PT6H'

@allowed(['functionKeys', 'appServiceRoles'])
param authMode string = 'functionKeys'

@allowed(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
@description('The weakest sslmode of any database connection (MIN_SSL_MODE); verify-full proves each server\'s name before a password is sent.')
param minSslMode string = 'require'

@description('Comma-separated hosts besides Azure Database for PostgreSQL\'s domains that Entra sign-in may reach (ENTRA_SIGN_IN_HOSTS): exact names or *.suffix.')
param entraSignInHosts string = ''

@description('Comma-separated Key Vault hosts, besides the one deployed here, that secretRef and keyRef may name (KEY_VAULT_HOSTS).')
param keyVaultHosts string = ''

@description('Grant the app wrap/unwrap on the Key Vault\'s keys, for policies with encryption.keyRef.')
param encryptionKeys bool = false

@description('Comma-separated CIDR ranges allowed to reach the Key Vault publicly (to write secrets); empty: private endpoint only.')
param keyVaultAdminIpRanges string = ''

@description('Object id of the person running azd (AZURE_PRINCIPAL_ID): gets Key Vault Secrets Officer to store credentials; empty: nobody.')
param principalId string = ''

@description('Mail address for the alerts (failed backups, no scheduler heartbeat, RPO breaches); empty: alerts in the portal only.')
param alertEmail string = ''

@description('Image the app starts with before the first azd deploy replaces it.')
param bootstrapImage string = 'mcr.microsoft.com/azure-functions/node:4-node22'

var tags = { 'azd-env-name': environmentName, application: 'pgvault' }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var namePrefix = 'pgvault-${environmentName}'
var protectedGroups = filter(map(split(protectedResourceGroupIds, ','), id => trim(id)), id => !empty(id))
var flexibleServers = filter(map(split(flexibleServerIds, ','), id => trim(id)), id => !empty(id))
var adminIpRanges = filter(map(split(keyVaultAdminIpRanges, ','), range => trim(range)), range => !empty(range))
var extraKeyVaultHosts = filter(map(split(keyVaultHosts, ','), vaultHost => trim(vaultHost)), vaultHost => !empty(vaultHost))
// `auto` keeps a vault without Flexible Server instances fully private, and opens it only as far as the writer needs.
// (A lookup rather than a conditional, so the compiler sees the result is one of the module's four modes.)
var vaultFlexAccess = {
  auto: empty(flexibleServers) ? 'off' : 'public'
  off: 'off'
  trustedServices: 'trustedServices'
  resourceInstances: 'resourceInstances'
  public: 'public'
}[vaultFlexibleServerAccess]

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${namePrefix}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: group
  name: 'identity'
  params: { name: '${namePrefix}-id', location: location, tags: tags }
}

module network 'modules/network.bicep' = {
  scope: group
  name: 'network'
  params: { name: '${namePrefix}-vnet', location: location, tags: tags }
}

module runtimeStorage 'modules/runtimeStorage.bicep' = {
  scope: group
  name: 'runtimeStorage'
  params: {
    name: 'pgvrt${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    blobDnsZoneId: network.outputs.blobDnsZoneId
    queueDnsZoneId: network.outputs.queueDnsZoneId
    tableDnsZoneId: network.outputs.tableDnsZoneId
  }
}

module vaultStorage 'modules/vaultStorage.bicep' = {
  scope: group
  name: 'vaultStorage'
  params: {
    name: 'pgvvault${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    blobDnsZoneId: network.outputs.blobDnsZoneId
    tableDnsZoneId: network.outputs.tableDnsZoneId
    immutability: vaultImmutability
    blobSoftDeleteDays: vaultBlobSoftDeleteDays
    flexibleServerAccess: vaultFlexAccess
    flexibleServerIds: flexibleServers
  }
}

module keyVault 'modules/keyVault.bicep' = {
  scope: group
  name: 'keyVault'
  params: {
    name: 'pgv-kv-${take(token, 15)}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    grantKeyWrap: encryptionKeys
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    keyVaultDnsZoneId: network.outputs.keyVaultDnsZoneId
    adminIpRanges: adminIpRanges
    deployerPrincipalId: principalId
  }
}

module registry 'modules/registry.bicep' = {
  scope: group
  name: 'registry'
  params: { name: 'pgvacr${token}', location: location, tags: tags, principalId: identity.outputs.principalId }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: group
  name: 'monitoring'
  params: { namePrefix: namePrefix, location: location, tags: tags, alertEmail: alertEmail }
}

module eventGrid 'modules/eventGrid.bicep' = {
  scope: group
  name: 'eventGrid'
  params: {
    name: '${namePrefix}-events'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    allowedIpAddress: network.outputs.outboundIpAddress
  }
}

module functionApp 'modules/functionApp.bicep' = {
  scope: group
  name: 'functionApp'
  // The identity must hold its storage, Key Vault and registry roles before the host first starts. The params below
  // read outputs of runtimeStorage, vaultStorage and keyVault, so the compiler already makes this deployment wait
  // for those whole modules (their role assignments included); only the registry's AcrPull needs naming.
  dependsOn: [registry]
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    appSubnetId: network.outputs.appSubnetId
    image: bootstrapImage
    runtimeStorage: {
      blobServiceUri: runtimeStorage.outputs.blobServiceUri
      queueServiceUri: runtimeStorage.outputs.queueServiceUri
      tableServiceUri: runtimeStorage.outputs.tableServiceUri
    }
    vaultStorage: {
      blobServiceUri: vaultStorage.outputs.blobServiceUri
      tableServiceUri: vaultStorage.outputs.tableServiceUri
    }
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    planSku: planSku
    maximumInstances: maximumInstances
    settings: {
      schedulerSchedule: schedulerSchedule
      flexBackupTimeout: flexBackupTimeout
      vaultImmutability: vaultImmutability
      softDeleteRetentionDays: softDeleteRetentionDays
      maxConcurrentDumps: maxConcurrentDumps
      authMode: authMode
      minSslMode: minSslMode
      entraSignInHosts: entraSignInHosts
      keyVaultHosts: join(concat([keyVault.outputs.host], extraKeyVaultHosts), ',')
      eventGridTopicEndpoint: eventGrid.outputs.endpoint
    }
  }
}

// Grants on what pgvault protects, which lives in other resource groups (and possibly other subscriptions).
module protectedReaders 'modules/protectedResourceGroupReader.bicep' = [for groupId in protectedGroups: {
  scope: resourceGroup(split(groupId, '/')[2], split(groupId, '/')[4])
  name: 'reader-${uniqueString(groupId)}'
  params: { principalId: identity.outputs.principalId }
}]

module flexibleServerRoles 'modules/flexibleServerLtrBackup.bicep' = [for serverId in flexibleServers: {
  scope: resourceGroup(split(serverId, '/')[2], split(serverId, '/')[4])
  name: 'ltr-${uniqueString(serverId)}'
  params: { serverName: last(split(serverId, '/')), principalId: identity.outputs.principalId }
}]

output AZURE_RESOURCE_GROUP string = group.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output PGVAULT_FUNCTION_APP_NAME string = functionApp.outputs.name
output PGVAULT_API_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output PGVAULT_VAULT_ACCOUNT string = vaultStorage.outputs.name
output PGVAULT_EVENT_GRID_TOPIC string = eventGrid.outputs.name
output PGVAULT_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
// The app's one outbound address (NAT gateway): allow it in the firewall of every server with public access.
output PGVAULT_OUTBOUND_IP string = network.outputs.outboundIpAddress
