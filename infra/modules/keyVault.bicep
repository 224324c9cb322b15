// The Key Vault that holds database credentials (`secretRef`) and, optionally, the keys that wrap encrypted
// recovery points' data keys (`encryption.keyRef`). RBAC only: the app reads secrets, it never lists or writes them.
import { builtInRoles } from 'roleIds.bicep'

param name string
param location string
param tags object
param principalId string
@description('Also grant wrap/unwrap on keys, for policies with encryption.keyRef.')
param grantKeyWrap bool
param privateEndpointSubnetId string
param keyVaultDnsZoneId string
@description('Addresses (CIDR) allowed to reach the vault publicly, to write secrets; empty: private endpoint only.')
param adminIpRanges array
@description('A person (the one running azd) who may write secrets into the vault; empty: nobody gets it here.')
param deployerPrincipalId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // A purged wrapping key would make every recovery point it wrapped unreadable.
    enablePurgeProtection: true
    publicNetworkAccess: empty(adminIpRanges) ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'None'
      ipRules: [for range in adminIpRanges: { value: range }]
    }
  }
}

var roles = concat([builtInRoles.keyVaultSecretsUser], grantKeyWrap ? [builtInRoles.keyVaultCryptoServiceEncryptionUser] : [])

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roles: {
  scope: vault
  name: guid(vault.id, principalId, roleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

// Whoever deploys stores the database credentials; the app itself can only read them.
resource officer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: vault
  name: guid(vault.id, deployerPrincipalId, builtInRoles.keyVaultSecretsOfficer)
  properties: {
    principalId: deployerPrincipalId
    principalType: 'User'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.keyVaultSecretsOfficer)
  }
}

module privateEndpoint 'privateEndpoint.bicep' = {
  name: '${name}-pe-vault'
  params: {
    name: '${name}-vault'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    targetId: vault.id
    groupId: 'vault'
    privateDnsZoneId: keyVaultDnsZoneId
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// The vault's host (vaultUri is https://<name>.vault.azure.net/, or the sovereign cloud's): what KEY_VAULT_HOSTS lists.
output host string = replace(replace(vault.properties.vaultUri, 'https://', ''), '/', '')
