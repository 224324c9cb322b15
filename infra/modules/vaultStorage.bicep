// The vault: backup data (container `backups`, and `ltr-*` containers for Flexible Server points) and the catalog
// tables. A separate account from the runtime's and from every source, with no account keys: a compromised source
// server or app setting never holds a credential for it. pgvault reaches it only through its private endpoints;
// its public endpoint is closed unless Flexible Server backups need it (`flexibleServerAccess`).
import { builtInRoles } from 'roleIds.bicep'

param name string
param location string
param tags object
param principalId string
param privateEndpointSubnetId string
param blobDnsZoneId string
param tableDnsZoneId string
@description('VAULT_IMMUTABILITY of the app: anything but off also grants the app the permission to set immutability policies.')
@allowed(['off', 'unlocked', 'locked'])
param immutability string
@description('Days deleted blobs and containers stay recoverable by storage itself (independent of pgvault\'s own soft delete).')
@minValue(1)
@maxValue(365)
param blobSoftDeleteDays int
// The Flexible Server long-term-retention writer runs in Microsoft's infrastructure, outside pgvault's VNet, and
// writes through user delegation SAS URLs (shared/flexServer/ltrContainers.ts), so it can only use the public
// endpoint. What each mode sets, and what Microsoft documents for it (docs/deploy.md, "Flexible Server backups
// reach the vault"):
// - off: public endpoint disabled. Flexible Server backups cannot be written.
// - trustedServices: public endpoint for Azure's trusted services only (`bypass: AzureServices`); Microsoft lists
//   Microsoft.DBForPostgreSQL among the services trusted through their managed identity
//   (MicrosoftDocs/azure-docs articles/storage/common/storage-network-security-trusted-azure-services.md).
// - resourceInstances: public endpoint for the listed Flexible Servers only (resource instance rules,
//   articles/storage/common/storage-network-security-resource-instances.md).
// - public: public endpoint open to all networks (as in Microsoft's live test of the LTR API, azure-cli
//   FlexibleServerLtrMgmtScenarioTest); every request still needs an Entra token or a user delegation SAS.
@description('How the Flexible Server long-term-retention writer reaches the vault: off, trustedServices, resourceInstances or public.')
@allowed(['off', 'trustedServices', 'resourceInstances', 'public'])
param flexibleServerAccess string = 'off'
@description('Resource ids of the protected Flexible Servers: the resource instance rules of `resourceInstances`.')
param flexibleServerIds array = []

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // Zone-redundant: a backup vault that one datacentre outage can take away is not a vault.
  sku: { name: 'Standard_ZRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: flexibleServerAccess == 'off' ? 'Disabled' : 'Enabled'
    // Whatever the mode, a caller on the public endpoint still needs an Entra token with a data role on this account
    // (only the app's identity holds one) or a user delegation SAS the app signed (shared keys are off, so no other
    // SAS can exist); pgvault signs SAS only for `ltr-*` containers, one container each, expiring with the backup.
    networkAcls: {
      defaultAction: flexibleServerAccess == 'public' ? 'Allow' : 'Deny'
      bypass: flexibleServerAccess == 'trustedServices' ? 'AzureServices' : 'None'
      // Resource instance rules name a resource and its tenant; the servers are in the deployment's tenant (Microsoft:
      // "Resource instances must be from the same tenant as your storage account").
      resourceAccessRules: flexibleServerAccess == 'resourceInstances' ? map(flexibleServerIds, serverId => { tenantId: tenant().tenantId, resourceId: serverId }) : []
      ipRules: []
      virtualNetworkRules: []
    }
    // Version-level immutability can only be switched on when the account is created; it lets pgvault put a
    // time-based policy on each backup blob (VAULT_IMMUTABILITY). Enabled even with `off`, so the mode can be
    // raised later without a new vault.
    immutableStorageWithVersioning: { enabled: true }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: { enabled: true, days: blobSoftDeleteDays }
    containerDeleteRetentionPolicy: { enabled: true, days: blobSoftDeleteDays }
  }
}

resource backups 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'backups'
  properties: { publicAccess: 'None' }
}

// Versioning keeps a previous version of every deleted blob; once blob soft delete's window has passed they only
// cost money (an immutable version is kept by storage until its policy ends, whatever this rule says).
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          // Rule names are documented as alphanumeric only.
          name: 'deletePreviousVersions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'] }
            actions: { version: { delete: { daysAfterCreationGreaterThan: blobSoftDeleteDays } } }
          }
        }
      ]
    }
  }
}

// The app reads and writes backup blobs (and makes user delegation SAS for Flexible Server backups) and the catalog.
var dataRoles = [
  builtInRoles.storageBlobDataContributor
  builtInRoles.storageTableDataContributor
]

resource dataAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in dataRoles: {
  scope: account
  name: guid(account.id, principalId, roleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

// Setting a blob's immutability policy needs this one data action, which no narrower built-in role than Storage
// Blob Data Owner holds; a custom role grants just it, on this account only.
resource immutabilityWriter 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (immutability != 'off') {
  name: guid(resourceGroup().id, 'pgvault-vault-immutability-writer')
  properties: {
    // Custom role names are unique per tenant, and the same environment name may be deployed in several subscriptions.
    roleName: 'pgvault vault immutability writer (${resourceGroup().name}, ${subscription().subscriptionId})'
    description: 'Sets time-based immutability policies on blob versions of the pgvault vault.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        dataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/immutableStorage/runAsSuperUser/action']
      }
    ]
    assignableScopes: [resourceGroup().id]
  }
}

resource immutabilityAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (immutability != 'off') {
  scope: account
  name: guid(account.id, principalId, 'pgvault-vault-immutability-writer')
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    // Role definitions live at subscription level whatever scope deployed them: name it the way the built-in roles are
    // named (`.id` here would carry this resource group's path). `!`: same condition as this assignment.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', immutabilityWriter!.name)
  }
}

var endpoints = [
  { groupId: 'blob', zoneId: blobDnsZoneId }
  { groupId: 'table', zoneId: tableDnsZoneId }
]

module privateEndpoints 'privateEndpoint.bicep' = [for endpoint in endpoints: {
  name: '${name}-pe-${endpoint.groupId}'
  params: {
    name: '${name}-${endpoint.groupId}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    targetId: account.id
    groupId: endpoint.groupId
    privateDnsZoneId: endpoint.zoneId
  }
}]

output name string = account.name
output id string = account.id
output blobServiceUri string = account.properties.primaryEndpoints.blob
output tableServiceUri string = account.properties.primaryEndpoints.table
