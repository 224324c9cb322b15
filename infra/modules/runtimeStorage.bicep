// The Functions runtime's storage (AzureWebJobsStorage): host locks, timer state and the Durable task hub
// (`pgvault` queues, history and instance tables, large-message blobs). Nothing of the vault lives here.
import { builtInRoles } from 'roleIds.bicep'

param name string
param location string
param tags object
param principalId string
param privateEndpointSubnetId string
param blobDnsZoneId string
param queueDnsZoneId string
param tableDnsZoneId string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    // The host and the Durable extension connect with the app's identity (AzureWebJobsStorage__*), so keys are off.
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny', bypass: 'None' }
  }
}

// What the Functions host and the Durable Functions Azure Storage provider need with an identity-based
// AzureWebJobsStorage: blob owner (host leases, task-hub blobs), queue and table data contributor (task hub).
var roles = [
  builtInRoles.storageBlobDataOwner
  builtInRoles.storageQueueDataContributor
  builtInRoles.storageTableDataContributor
]

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roles: {
  scope: account
  name: guid(account.id, principalId, roleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

var endpoints = [
  { groupId: 'blob', zoneId: blobDnsZoneId }
  { groupId: 'queue', zoneId: queueDnsZoneId }
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
output blobServiceUri string = account.properties.primaryEndpoints.blob
output queueServiceUri string = account.properties.primaryEndpoints.queue
output tableServiceUri string = account.properties.primaryEndpoints.table
