// The Event Grid topic pgvault publishes its events to (docs/operations.md, "Events"): CloudEvents 1.0 only, and
// identity only (no access keys or SAS: `disableLocalAuth`). The app's identity may send and nothing more
// ("EventGrid Data Sender"); subscriptions route the events on (email, Teams, webhooks).
// Reached over its public endpoint, admitting only the app's one outbound address (the NAT gateway's).
import { builtInRoles } from 'roleIds.bicep'

param name string
param location string
param tags object
param principalId string
@description('The app\'s outbound address, the only one the topic admits.')
param allowedIpAddress string

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    inboundIpRules: [{ ipMask: allowedIpAddress, action: 'Allow' }]
  }
}

resource dataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: topic
  name: guid(topic.id, principalId, builtInRoles.eventGridDataSender)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.eventGridDataSender)
  }
}

output name string = topic.name
// The publish URL (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`), what EVENT_GRID_TOPIC_ENDPOINT takes.
output endpoint string = topic.properties.endpoint
